"""Values on the wire: msgpack, with size limits checked before anything is written."""

from __future__ import annotations

from typing import Any

import msgpack

from syntha_redis.exceptions import SynthaValidationError

__all__ = ["encode_value", "decode_value", "text"]


def encode_value(value: Any, max_bytes: int, key: str) -> bytes:
    """msgpack bytes of ``value``; JSON types, bytes and nested containers round-trip."""
    try:
        data: bytes = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as e:
        raise SynthaValidationError(
            f"value of {key!r} cannot be stored: {e}",
            field="value",
            cause=e,
            suggestions=[
                "Store JSON-like data (dict, list, str, int, float, bool, None) or bytes; "
                "convert sets, dates and objects first (e.g. to lists, ISO strings, dicts)"
            ],
        ) from None
    if len(data) > max_bytes:
        raise SynthaValidationError(
            f"value of {key!r} is {len(data)} bytes encoded; the limit is {max_bytes}",
            field="value",
            suggestions=["Store a smaller value, or a reference (URL, id) to the large data"],
        )
    return data


def decode_value(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def text(raw: bytes | str | int) -> str:
    """A reply field as text (redis-py returns bytes; op-id replays return strings)."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)
