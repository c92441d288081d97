"""The Lua scripts of ``lua/``, loaded once and called by EVALSHA.

Each script is ``_prelude.lua`` + any files named on ``-- include:`` lines +
the script itself. The scripts are package data: ``syntha_redis/lua/``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from syntha_redis.core.calls import CommandCall, Operation

__all__ = ["LuaScript", "SCRIPTS", "load_missing", "lua_dir"]

_INCLUDE = re.compile(r"^-- include: (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str
    sha: str


def lua_dir() -> Path:
    """``syntha_redis/lua/``: package data, in a wheel and in a source tree alike."""
    return Path(__file__).parent.parent / "lua"


def _load() -> dict[str, LuaScript]:
    folder = lua_dir()
    prelude = (folder / "_prelude.lua").read_text()
    scripts = {}
    for path in sorted(folder.glob("[!_]*.lua")):
        body = path.read_text()
        parts = [prelude]
        parts += [(folder / name).read_text() for name in _INCLUDE.findall(body)]
        parts.append(body)
        source = "\n".join(parts)
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
