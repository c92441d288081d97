"""Module paths from before the folders keep importing, as the same modules."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from syntha_redis.moved import MOVED

SYNTHA_MODULES = ["context", "tools", "tool_factory", "framework_adapters", "prompts",
                  "exceptions", "logging", "persistence", "reports"]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_is_the_module_in_its_folder(old: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_names_import_from_an_old_path_in_a_fresh_process() -> None:
    # nothing imported before: the old path alone must find the package's finder
    code = ("from syntha_redis.store import Store\n"
            "from syntha_redis.core.store import Store as Moved\n"
            "import syntha_redis.tool_handler as th\n"
            "print(Store is Moved, th.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["True", "syntha_redis.agents.handler"]


@pytest.mark.parametrize("name", SYNTHA_MODULES)
def test_syntha_module_names_are_real_modules_at_the_root(name: str) -> None:
    module = importlib.import_module(f"syntha_redis.{name}")
    assert module.__name__ == f"syntha_redis.{name}"  # a file, not an alias
    assert getattr(module, "__all__", None)


def test_a_root_shim_hands_on_the_same_objects() -> None:
    from syntha_redis.agents.adapters import OpenAIAdapter
    from syntha_redis.framework_adapters import OpenAIAdapter as FromSyntha

    assert FromSyntha is OpenAIAdapter
