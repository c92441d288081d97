"""Values on the wire: msgpack, with size limits checked before anything is written.

Only values that read back as what was stored are accepted: JSON-like data
(dicts with string keys, lists and tuples, strings, numbers, booleans, None)
and bytes. lua/_push_item.lua checks the same of every value a script is
given, so no raw call can store one that a read could not decode; an item
corrupted anyway (a raw HSET) fails only its own read: ``CorruptItem``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgpack

from syntha_redis.exceptions import SynthaPersistenceError, SynthaValidationError

__all__ = [
    "CorruptItem",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "UNREADABLE",
    "decode_value",
    "encode_value",
    "text",
    "too_deep",
]

# Deepest nesting of lists and dicts in a value. msgpack alone would take 1024
# levels, but json.dumps and repr of such a value overflow Python's default
# recursion limit (1000) wherever it is shown later (tool results, MCP, CLI).
MAX_DEPTH = 500
# Elements (scalars and containers) of the values of one call: the script walks
# each value's encoding to check it, ~0.1 us an element (lua/_push_item.lua).
MAX_ELEMENTS = 100_000

# What reading a stored field that a raw command corrupted raises.
UNREADABLE = (ValueError, TypeError, OverflowError, IndexError, AttributeError)


class CorruptItem(SynthaPersistenceError):
    """A stored item whose fields do not decode (written around the scripts)."""

    def __init__(self, user_id: str, key: str, cause: BaseException) -> None:
        super().__init__(
            f"item {key!r} of user {user_id!r} is stored in a form that cannot be read "
            f"({type(cause).__name__}); reads of many items leave it out",
            backend="redis",
            operation="read",
            suggestions=[f"Remove the item (remove({key!r})) or push it again"],
        )


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
    # containers need a walk (their keys); a scalar is one element
    if isinstance(value, dict | list | tuple):
        problem = _not_json(value)
        if problem:
            raise SynthaValidationError(
                f"value of {key!r} cannot be stored: {problem}",
                field="value",
                suggestions=[_suggestion(RecursionError()) if "deep" in problem
                             else _JSON_LIKE],
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
    return _walk(value, limit, check=False) == "deep"


def _not_json(value: Any) -> str | None:
    """Why ``value`` would not read back as stored, or be refused by the script; or None."""
    problem = _walk(value, MAX_DEPTH, check=True)
    if problem == "deep":
        return f"it is nested more than {MAX_DEPTH} levels deep (or contains itself)"
    if problem == "key":
        return "a dict key is not a string (JSON objects have string keys only)"
    if problem == "many":
        return (f"it holds more than {MAX_ELEMENTS} elements (lists, dicts, keys and "
                "scalars); store large arrays as one string or bytes")
    return None


def _walk(value: Any, limit: int, check: bool) -> str | None:
    """The first problem found: 'deep' (past ``limit``), and with ``check`` also
    'key' (not a string) or 'many' (past MAX_ELEMENTS, counted as the script does:
    every scalar, container and key); or None."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if check and count > MAX_ELEMENTS:
            return "many"
        if not isinstance(item, dict | list | tuple):
            continue
        if depth > limit:
            return "deep"
        if isinstance(item, dict):
            if check and not all(type(k) is str for k in item):
                return "key"
            count += len(item)
            children: Iterable[Any] = item.values()
        else:
            children = item
        stack.extend(
            (c, depth + 1) for c in children if check or isinstance(c, dict | list | tuple)
        )
    return None


def decode_value(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def text(raw: bytes | str | int) -> str:
    """A reply field as text (redis-py returns bytes; op-id replays return strings)."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)
