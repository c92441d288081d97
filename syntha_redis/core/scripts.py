"""The Lua scripts of ``lua/``, loaded once and called by EVALSHA.

Each script is ``_prelude.lua`` + any files named on ``-- include:`` lines +
the script itself. The scripts are package data: ``syntha_redis/lua/``.

Redis runs a script's whole text on every call, so the shared files' key names
and helper functions would cost every call their definitions (~1-2 µs of a
5 µs read). ``_shake`` drops, per script, every top-level ``local function``
and ``local K_...`` line of the shared files that nothing in the script uses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from syntha_redis.core.calls import CommandCall, Operation

__all__ = ["LuaScript", "SCRIPTS", "load_missing", "lua_dir"]

_INCLUDE = re.compile(r"^-- include: (\S+)$", re.MULTILINE)
# a top-level definition: "local function name(" up to the first "end" in column 0,
# or a one-line "local K_NAME = ..."
_DEFINITION = re.compile(
    r"^local function (\w+)\(.*?^end\n|^local (K_\w+) = [^\n]*\n", re.MULTILINE | re.DOTALL
)
# comments and one-line string literals: a name that appears only there is unused
_NOT_CODE = re.compile(r"--[^\n]*|'[^'\n]*'|\"[^\"\n]*\"")


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str
    sha: str


def lua_dir() -> Path:
    """``syntha_redis/lua/``: package data, in a wheel and in a source tree alike."""
    return Path(__file__).parent.parent / "lua"


def _shake(shared: str, body: str) -> str:
    """``shared`` without the definitions that neither ``body`` nor a kept one uses.

    What is kept is what the script reaches: the body and the shared text
    outside definitions use names, and a kept definition's names are kept too.
    One pass over the text (this runs for every script at import).
    """
    definitions = {(m.group(1) or m.group(2)): m for m in _DEFINITION.finditer(shared)}
    outside, last = [body], 0
    for match in definitions.values():
        outside.append(shared[last:match.start()])
        last = match.end()
    outside.append(shared[last:])
    wanted = [n for n in _names("".join(outside)) if n in definitions]
    kept: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in kept:
            kept.add(name)
            wanted += [n for n in _names(definitions[name].group(0)) if n in definitions]
    dropped = [m for name, m in definitions.items() if name not in kept]
    for match in sorted(dropped, key=lambda m: m.start(), reverse=True):
        shared = shared[: match.start()] + shared[match.end() :]
    return shared


def _names(lua: str) -> set[str]:
    """The identifiers of ``lua``'s code (not of its comments or string literals)."""
    return set(re.findall(r"\w+", _NOT_CODE.sub(" ", lua)))


def _load() -> dict[str, LuaScript]:
    folder = lua_dir()
    prelude = (folder / "_prelude.lua").read_text()
    scripts = {}
    for path in sorted(folder.glob("[!_]*.lua")):
        body = path.read_text()
        parts = [prelude]
        parts += [(folder / name).read_text() for name in _INCLUDE.findall(body)]
        source = _shake("\n".join(parts), body) + "\n" + body
        sha = hashlib.sha1(source.encode()).hexdigest()
        scripts[path.stem] = LuaScript(path.stem, source, sha)
    return scripts


SCRIPTS: dict[str, LuaScript] = _load()


def load_missing() -> Operation[int]:
    """Load the scripts the server's cache lacks (after a restart, a failover or
    SCRIPT FLUSH); returns how many were loaded."""
    scripts = list(SCRIPTS.values())
    cached = yield CommandCall(("SCRIPT", "EXISTS", *(s.sha for s in scripts)))
    missing = [s for s, there in zip(scripts, cached, strict=True) if not there]
    for script in missing:
        yield CommandCall(("SCRIPT", "LOAD", script.source))
    return len(missing)
