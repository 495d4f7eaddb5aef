from __future__ import annotations

import pytest

from plex_cognite.cdf.ids import DEFAULT_ID_SCHEME, ExternalIdScheme


def test_default_scheme_is_design_section_5() -> None:
    ids = DEFAULT_ID_SCHEME
    assert ids.plant("340884") == "PCN340884_PLANT"
    assert ids.building("340884", "b") == "PCN340884_BLDG_b"
    assert ids.workcenter("340884", "w") == "PCN340884_WC_w"
    assert ids.parts_catalog("340884") == "PCN340884_PARTS"
    assert ids.part("340884", "p") == "PCN340884_PART_p"
    assert ids.job("340884", "j") == "PCN340884_JOB_j"
    assert ids.workcenter_status("340884", "w", 1759500312523) == "PCN340884_WCS_w_1759500312523"
    assert ids.production_series("340884", "w") == "PCN340884_WC_w_PRODUCED_QTY"
    assert ids.scrap_series("340884", "w") == "PCN340884_WC_w_SCRAP_QTY"


def test_prefix_is_configurable() -> None:
    assert ExternalIdScheme("ACME").plant("1") == "ACME1_PLANT"
    assert repr(ExternalIdScheme("X")) == "ExternalIdScheme(prefix='X')"


def test_inventory_ids_and_raw_row_keys() -> None:
    ids = DEFAULT_ID_SCHEME
    assert ids.location("340884", "l") == "PCN340884_LOC_l"
    assert ids.on_hand_series("340884", "p") == "PCN340884_PART_p_ON_HAND_QTY"
    assert ids.container_move("340884", "S1", 1759500312523) == "PCN340884_MOVE_S1_1759500312523"
    assert ids.container_row("340884", "S1") == "PCN340884_S1"
    assert ids.raw_row("340884", 700001, "A", None) == "PCN340884_700001_A_"
    assert ids.raw_row_prefix("340884") == "PCN340884_"
    assert ExternalIdScheme("ACME").raw_row("1", "k").startswith(ExternalIdScheme("ACME").raw_row_prefix("1"))
    with pytest.raises(ValueError, match="at least one value"):
        ids.raw_row("340884")
