"""Values on the wire: msgpack, with size limits checked before anything is written."""

from __future__ import annotations

from typing import Any

import msgpack

from syntha_redis.exceptions import SynthaValidationError

__all__ = ["encode_value", "decode_value", "text", "too_deep", "MAX_DEPTH"]

# Deepest nesting of lists and dicts in a value. msgpack alone would take 1024
# levels, but json.dumps and repr of such a value overflow Python's default
# recursion limit (1000) wherever it is shown later (tool results, MCP, CLI).
MAX_DEPTH = 500


def encode_value(value: Any, max_bytes: int, key: str) -> bytes:
    """msgpack bytes of ``value``; JSON types, bytes and nested containers round-trip."""
    try:
        data: bytes = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError, RecursionError) as e:
        raise SynthaValidationError(
            f"value of {key!r} cannot be stored: {_why(e)}",
            field="value",
            suggestions=[_suggestion(e)],
        ) from None
    # each level costs at least one header byte: only a long encoding can be too deep
    if len(data) > MAX_DEPTH and too_deep(value):
        raise SynthaValidationError(
            f"value of {key!r} cannot be stored: it is nested more than {MAX_DEPTH} levels deep",
            field="value",
            suggestions=[_suggestion(RecursionError())],
        )
    if len(data) > max_bytes:
        raise SynthaValidationError(
            f"value of {key!r} is {len(data)} bytes encoded; the limit is {max_bytes}",
            field="value",
            suggestions=["Store a smaller value, or a reference (URL, id) to the large data"],
        )
    return data


_JSON_LIKE = (
    "Store JSON-like data (dict, list, str, int, float, bool, None) or bytes; "
    "convert sets, dates and objects first (e.g. to lists, ISO strings, dicts)"
)


def _too_deep(error: BaseException) -> bool:
    return isinstance(error, RecursionError) or (
        type(error) is ValueError and "recursion" in str(error)
    )


def _why(error: BaseException) -> str:
    if _too_deep(error):
        return f"it is nested more than {MAX_DEPTH} levels deep (or contains itself)"
    return str(error)


def _suggestion(error: BaseException) -> str:
    if _too_deep(error):
        return (
            f"Nest containers at most {MAX_DEPTH} levels deep (and without cycles); "
            "store deeper structures flattened or as a JSON string"
        )
    if isinstance(error, UnicodeEncodeError):
        return (
            "Store valid Unicode text: a string with a lone surrogate (e.g. '\\ud800') "
            "has no UTF-8 form; decode bytes with errors='replace'"
        )
    if isinstance(error, OverflowError):
        return "Store integers within 64 bits; larger numbers as strings"
    return _JSON_LIKE


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if ``value`` nests lists, tuples or dicts more than ``limit`` deep (or holds
    itself). Iterative: deciding this must not itself overflow the Python stack,
    as ``repr`` and ``json.dumps`` of such a value do."""
    if not isinstance(value, dict | list | tuple):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list | tuple))
    return False


def decode_value(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def text(raw: bytes | str | int) -> str:
    """A reply field as text (redis-py returns bytes; op-id replays return strings)."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)
