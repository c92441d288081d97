"""Each script carries only the shared Lua it reaches."""

from __future__ import annotations

from syntha_redis.core.scripts import SCRIPTS, _shake

SHARED = """local K_A = ROOT .. 'a'
local K_B = ROOT .. 'b'
local function helper()
  return redis.call('GET', K_A)
end
local function unused()
  return helper() .. K_B
end
local function named_in_a_comment()
  return 1
end
local guard = K_B
"""


def test_a_script_keeps_what_it_reaches_and_drops_the_rest() -> None:
    kept = _shake(SHARED, "-- named_in_a_comment is not a call\nreturn helper()\n")
    assert "local function helper()" in kept and "local K_A" in kept
    assert "local K_B" in kept  # the shared text outside definitions uses it
    assert "unused" not in kept and "named_in_a_comment" not in kept


def test_a_definition_used_only_by_a_dropped_one_goes_too() -> None:
    kept = _shake(SHARED.replace("local guard = K_B\n", ""), "return 1\n")
    assert "helper" not in kept and "K_A" not in kept and "K_B" not in kept


def test_the_read_scripts_leave_out_the_write_helpers() -> None:
    assert "local function write_items(" not in SCRIPTS["get"].source
    assert "local function write_items(" in SCRIPTS["push"].source
