"""Byte encoding of cache values that round-trips every `JSONValue` exactly, types included.

One tag byte, then the payload: `s` str (UTF-8), `i` int, `f` float (repr, so inf/nan and every bit survive),
`T`/`F` bool, `N` None, `j` list or dict (compact JSON). Scalars, by far the common case (numeric asset ids,
external ids), skip JSON altogether. Lone surrogates in strings survive too (`surrogatepass`).
"""

from __future__ import annotations

import json

from plex_cognite.typing import CacheValue

__all__ = ["decode_value", "encode_key", "encode_value"]

_TRUE = b"T"
_FALSE = b"F"
_NONE = b"N"


def encode_key(key: str) -> bytes:
    """Encode a cache key as UTF-8 (lone surrogates pass through)."""
    return key.encode("utf-8", "surrogatepass")


def encode_value(value: CacheValue) -> bytes:
    """Encode a value for storage.

    Raises:
        TypeError: The value is not a `JSONValue` (for example a set or a datetime).
    """
    # bool before int: bool is a subclass of int.
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    if value is None:
        return _NONE
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, int):
        return b"i" + str(int(value)).encode()
    if isinstance(value, float):
        return b"f" + repr(float(value)).encode()
    if isinstance(value, list | dict):
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"cache values must be JSON values (str, int, float, bool, None, list, dict): {exc}"
            ) from exc
        return b"j" + text.encode("utf-8", "surrogatepass")
    raise TypeError(
        f"cache values must be JSON values (str, int, float, bool, None, list, dict), got {type(value).__name__}"
    )


def decode_value(data: bytes | str) -> CacheValue:
    """Decode what `encode_value` produced.

    Raises:
        ValueError: The bytes were not written by `encode_value` (unknown tag or corrupt payload).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    tag, payload = raw[:1], raw[1:]
    if tag == b"s":
        return payload.decode("utf-8", "surrogatepass")
    if tag == b"i":
        return int(payload)
    if tag == b"f":
        return float(payload)
    if tag == _TRUE:
        return True
    if tag == _FALSE:
        return False
    if tag == _NONE:
        return None
    if tag == b"j":
        decoded: CacheValue = json.loads(payload.decode("utf-8", "surrogatepass"))
        return decoded
    raise ValueError(f"not a plex-cognite cache value (tag {tag!r})")
