"""Parsing what tenants can write (syntha_redis.core.untrusted): typed values or a reason."""

from __future__ import annotations

from typing import Any

import pytest

from syntha_redis.core import keys, untrusted
from syntha_redis.core.untrusted import Event, Malformed


@pytest.mark.parametrize("name", ["a1", "sales team", "ключ", "a,b", "100%", "{u:bob}", "~x"])
def test_every_token_keys_encode_makes_reads_back_as_its_name(name: str) -> None:
    token = keys.encode(name)
    assert untrusted.identifier(token.encode(), "key") == (name, token)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"\xff\xfe", "undecodable"), (b"%ff", "undecodable"), (b"%41", "bad_identifier"),
     (b"a b", "bad_identifier"), (b"%00", "bad_identifier"), (b"", "bad_identifier"),
     (b"x" * 5000, "bad_identifier"), (None, "wrong_type"), (7, "wrong_type")],
)
def test_a_token_keys_encode_never_makes_is_malformed(raw: Any, kind: str) -> None:
    found = untrusted.identifier(raw, "key")
    assert isinstance(found, Malformed) and found.kind == kind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"0", 0), (b"42", 42), (str(2**63 - 1).encode(), 2**63 - 1), (b"abc", "bad_integer"),
     (b"1e3", "bad_integer"), (b" 7", "bad_integer"), (b"1_000", "bad_integer"),
     ("٣", "bad_integer"), ("٣".encode(), "undecodable"), (b"-1", "out_of_range"),
     (str(2**63).encode(), "out_of_range"), (str(10**30).encode(), "out_of_range"),
     (b"9" * 5000, "out_of_range"), (b"\xff", "undecodable")],
)
def test_integers_are_plain_digits_within_postgres_bigint(raw: bytes, expected: Any) -> None:
    found = untrusted.integer(raw, "version")
    assert found == expected if isinstance(expected, int) else found == Malformed(
        expected, getattr(found, "detail", ""))


def test_an_event_as_the_scripts_write_it_parses_into_typed_fields() -> None:
    found = untrusted.event({b"type": b"deleted", b"key": b"a%20b", b"ver": b"12",
                             b"topics": b"t1,t%2C2", b"subs": b""})
    assert found == Event("deleted", 12, token="a%20b", key="a b", topics=("t1", "t,2"))


@pytest.mark.parametrize(
    ("fields", "kind"),
    [({b"ver": b"1"}, "wrong_type"), ({b"type": b"renamed"}, "unknown_event"),
     ({b"type": b"pushed", b"ver": b"1"}, "wrong_type"),
     ({b"type": b"subscribed", b"agent": b"a", b"topics": b"t,,u"}, "bad_identifier")],
)
def test_an_event_missing_or_mangling_a_field_is_malformed(fields: Any, kind: str) -> None:
    found = untrusted.event(fields)
    assert isinstance(found, Malformed) and found.kind == kind


def test_an_item_hash_parses_and_a_gone_one_is_none() -> None:
    h = [b"\x01", b"5", b"writer", b"1000", b"0", b"t", b""]
    found = untrusted.item(h)
    assert isinstance(found, untrusted.Item)
    assert (found.version, found.author, found.expires_ms, found.topics) == (5, "writer", None,
                                                                              ("t",))
    assert untrusted.item([None, b"5", None, None, None, None, None]) is None
    assert isinstance(untrusted.item([b"\x01", b"5"]), Malformed)


def test_a_problem_is_counted_every_time_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = untrusted.summary()["by_kind"].get("bad_integer", 0)
    problem = Malformed("bad_integer", "version is not an integer: 'abc'")
    with caplog.at_level("WARNING", logger="syntha_redis.untrusted"):
        for _ in range(3):
            untrusted.set_aside("test reader", "mallory", "mallory:ver", problem)
    assert untrusted.summary()["by_kind"]["bad_integer"] == before + 3
    assert len([r for r in caplog.records if "mallory" in r.getMessage()]) == 1
    assert untrusted.summary()["last"]["user"] == "mallory"
