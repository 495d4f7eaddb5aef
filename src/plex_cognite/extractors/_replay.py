"""Rebuilding a Plex record from a dead letter's payload, for replays."""

from __future__ import annotations

from typing import TypeVar

import pydantic

from plex_cognite.core.extractor import ITEM_REJECTED, ReplayUnsupportedError
from plex_cognite.errors import RecordValidationError
from plex_cognite.plex._stream import describe
from plex_cognite.typing import DeadLetter

__all__ = ["record_from_letter"]

RecordT = TypeVar("RecordT", bound=pydantic.BaseModel)


def record_from_letter(model: type[RecordT], letter: DeadLetter) -> RecordT:
    """Validate a letter's payload (the raw Plex row, or the record a transform rejected) as `model`.

    Raises:
        RecordValidationError: The payload still does not validate (with the reason, as for a fresh row).
        ReplayUnsupportedError: The letter is an item CDF refused, not a record (nothing to map again).
    """
    payload = letter.payload
    if letter.error_type == ITEM_REJECTED:
        key = payload.get("key") if isinstance(payload, dict) else None
        raise ReplayUnsupportedError(
            f"CDF refused item {key!r} itself ({letter.reason}); correct the record in Plex and it is read again"
        )
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise RecordValidationError(describe(model, exc)[1], payload=payload) from exc
