"""The external-id scheme: deterministic CDF external ids (and RAW row keys) from Plex primary keys.

Every write is an upsert by external id, so the ids must be the same on every run and on every worker. The default
scheme is `PCN{pcn}_...`; subclass `ExternalIdScheme` (or pass another `prefix`) to change it::

    class MyIds(ExternalIdScheme):
        def part(self, pcn: str, part_id: str) -> str:
            return f"plex:{pcn}:part:{part_id}"
"""

from __future__ import annotations

from plex_cognite.typing import ExternalId, Pcn

__all__ = ["DEFAULT_ID_SCHEME", "ExternalIdScheme"]


class ExternalIdScheme:
    """Builds every external id the extractors write.

    Args:
        prefix: Text before the PCN (`PCN` gives `PCN340884_PLANT`).
    """

    def __init__(self, prefix: str = "PCN") -> None:
        self.prefix = prefix

    def _base(self, pcn: Pcn) -> str:
        return f"{self.prefix}{pcn}"

    def plant(self, pcn: Pcn) -> ExternalId:
        """The plant's root asset: `PCN{pcn}_PLANT`."""
        return f"{self._base(pcn)}_PLANT"

    def building(self, pcn: Pcn, building_id: str) -> ExternalId:
        """A building asset: `PCN{pcn}_BLDG_{id}`."""
        return f"{self._base(pcn)}_BLDG_{building_id}"

    def workcenter(self, pcn: Pcn, workcenter_id: str) -> ExternalId:
        """A workcenter asset: `PCN{pcn}_WC_{workcenterId}`."""
        return f"{self._base(pcn)}_WC_{workcenter_id}"

    def parts_catalog(self, pcn: Pcn) -> ExternalId:
        """The parts catalog asset: `PCN{pcn}_PARTS`."""
        return f"{self._base(pcn)}_PARTS"

    def part(self, pcn: Pcn, part_id: str) -> ExternalId:
        """A part asset: `PCN{pcn}_PART_{id}`."""
        return f"{self._base(pcn)}_PART_{part_id}"

    def job(self, pcn: Pcn, job_id: str) -> ExternalId:
        """A job event: `PCN{pcn}_JOB_{id}`."""
        return f"{self._base(pcn)}_JOB_{job_id}"

    def workcenter_status(self, pcn: Pcn, workcenter_id: str, log_date_ms: int) -> ExternalId:
        """A workcenter status event: `PCN{pcn}_WCS_{workcenterId}_{logDate epoch ms}`."""
        return f"{self._base(pcn)}_WCS_{workcenter_id}_{log_date_ms}"

    def production_series(self, pcn: Pcn, workcenter_id: str) -> ExternalId:
        """The produced-quantity time series of a workcenter: `PCN{pcn}_WC_{workcenterId}_PRODUCED_QTY`."""
        return f"{self.workcenter(pcn, workcenter_id)}_PRODUCED_QTY"

    def scrap_series(self, pcn: Pcn, workcenter_id: str) -> ExternalId:
        """The scrap-quantity time series of a workcenter: `PCN{pcn}_WC_{workcenterId}_SCRAP_QTY`."""
        return f"{self.workcenter(pcn, workcenter_id)}_SCRAP_QTY"

    def location(self, pcn: Pcn, location_id: str) -> ExternalId:
        """An inventory location asset: `PCN{pcn}_LOC_{locationId}`."""
        return f"{self._base(pcn)}_LOC_{location_id}"

    def on_hand_series(self, pcn: Pcn, part_id: str) -> ExternalId:
        """The on-hand quantity time series of a part: `PCN{pcn}_PART_{partId}_ON_HAND_QTY`."""
        return f"{self.part(pcn, part_id)}_ON_HAND_QTY"

    def container_move(self, pcn: Pcn, serial_no: str, adjustment_date_ms: int) -> ExternalId:
        """A container location move event: `PCN{pcn}_MOVE_{serialNo}_{adjustmentDate epoch ms}`."""
        return f"{self._base(pcn)}_MOVE_{serial_no}_{adjustment_date_ms}"

    def raw_row_prefix(self, pcn: Pcn) -> str:
        """The prefix of every RAW row key this scheme gives a PCN: `PCN{pcn}_` (rows a PCN's extractor owns)."""
        return f"{self._base(pcn)}_"

    def raw_row(self, pcn: Pcn, *values: object) -> str:
        """A RAW row key: `PCN{pcn}_{values joined by _}`.

        A container's values are its `serialNo`; a data-source row's, its key column values (`None` as "").

        Raises:
            ValueError: No values are given.
        """
        if not values:
            raise ValueError("a RAW row key needs at least one value")
        return self.raw_row_prefix(pcn) + "_".join("" if value is None else str(value) for value in values)

    def container_row(self, pcn: Pcn, serial_no: str) -> str:
        """The RAW row key of an active container: `PCN{pcn}_{serialNo}`."""
        return self.raw_row(pcn, serial_no)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r})"


#: The default scheme (`PCN{pcn}_...`, see `docs/mapping.md` and `docs/inventory.md`).
DEFAULT_ID_SCHEME = ExternalIdScheme()
