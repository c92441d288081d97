"""What an operation asks of Redis: the calls that ``store`` runs.

An operation (``operations``, ``limits``, ``health``, ...) is a generator that
yields these and receives their replies; ``store.Store`` and
``store.AsyncStore`` drive it. Kept apart from the store so that any module
can describe calls without importing the machinery that runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["ScriptCall", "CommandCall", "CachedRead", "Call", "Step", "Operation"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """EVALSHA of ``lua/<name>.lua`` with the user root as KEYS[1]."""

    name: str
    root: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CommandCall:
    """One plain Redis command (reads of a single key, the user registry).

    ``root``: the user root when the command reads that user's keys, so that
    a guarded store checks the user's epoch marker with it.
    """

    args: tuple[Any, ...]
    root: str | None = None

    @property
    def name(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class CachedRead:
    """A read the store may answer from the process's read cache (``read_cache``).

    ``key`` names what is read (``root`` first); ``read`` is the operation that
    reads it from Redis, returning the frozen result and the earliest expiry
    (unix seconds) of what it holds, or None; ``thaw`` makes the caller's copy
    of a frozen result. The reply to a ``CachedRead`` is that copy.
    """

    root: str
    key: tuple[Any, ...]
    read: Operation[tuple[Any, float | None]]
    thaw: Callable[[Any], Any]


Call = ScriptCall | CommandCall
Step = Call | CachedRead  # what an operation yields
Operation = Generator[Step, Any, T]
