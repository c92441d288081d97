"""Where push.lua's time goes: the script cut short after each top-level statement.

    python benchmarks/profile_push.py [--rounds 9] [--calls 300]

Starts a private redis-server, stores 3,000 items through the library, then loads
one copy of push.lua per cut: the shared helpers and the body up to a statement,
then ``return``. Each round calls every copy ``--calls`` times with a new key and a
new operation id (so no call is a replay and every cut writes what the full script
would up to there), reading the EVALSHA usec of INFO commandstats around each block;
the rounds alternate their order, and each figure is the median over rounds. The
difference between two lines is what the statement between them costs, the
shared helpers' definitions included in the first line. An empty script with the
same arguments is the yardstick of a call's own cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from syntha_redis.core.calls import ScriptCall  # noqa: E402
from syntha_redis.core.scripts import SCRIPTS  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

VALUE = "v" * 158


def cuts(source: str) -> dict[str, str]:
    """push.lua cut after each top-level statement of its body, by what ran last."""
    at = source.index("local prior = replayed()")
    head, body = source[:at], source[at:].splitlines()
    out = {"(an empty script)": "return {1}", "(shared helpers only)": head + "return {1}"}
    statement = body[0]
    for k in range(1, len(body)):
        if body[k].startswith((" ", "--")):  # inside a statement, or a comment
            continue
        out[statement] = "\n".join([head, *body[:k], "do return {1} end", *body[k:]])
        statement = body[k]
    out["(the whole script)"] = source
    return out


def push_call(mesh: ContextMesh) -> ScriptCall:
    operation = mesh.operations.push("k", VALUE, topics=["t0", "u0"], ttl=3600)
    call = next(operation)
    while not (isinstance(call, ScriptCall) and call.name == "push"):
        operation = mesh.operations.push("k", VALUE, topics=["t0", "u0"], ttl=3600)
        call = next(operation)
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    server = RedisProcess(extra=("--hash-max-listpack-value", "1024")).start()
    try:
        client = redis.Redis.from_url(server.url)
        mesh = ContextMesh(user_id="profile", redis_url=server.url, auto_cleanup=False)
        for i in range(3000):
            mesh.push(f"item-{i}", VALUE, topics=[f"t{i % 7}", f"u{i % 11}"], ttl=3600)
        shas = {name: client.script_load(text) for name, text in
                cuts(SCRIPTS["push"].source).items()}
        call = push_call(mesh)
        period = str(call.args[0]).split(":")[0]
        seq = iter(range(10**9))
        usec: dict[str, list[float]] = {name: [] for name in shas}
        order = list(shas.items())
        for r in range(args.rounds):
            for name, sha in order if r % 2 == 0 else order[::-1]:
                client.config_resetstat()
                for _ in range(args.calls):
                    i = next(seq)
                    argv = list(call.args)
                    argv[0] = f"{period}:{i * 2654435761 % 2**64:016x}"
                    argv[6], argv[9] = f"new-{i}", f"t{i % 7},u{i % 11}"
                    client.evalsha(sha, 1, call.root, *argv)
                stats = client.info("commandstats")["cmdstat_evalsha"]
                usec[name].append(stats["usec"] / args.calls)
        print(f"push.lua, EVALSHA µs per call (median of {args.rounds} rounds), cut after:")
        previous = 0.0
        for name, figures in usec.items():
            median = statistics.median(figures)
            print(f"  {median:7.2f}  {median - previous:+7.2f}  {name[:80]}")
            previous = median
    finally:
        server.stop()


if __name__ == "__main__":
    main()
