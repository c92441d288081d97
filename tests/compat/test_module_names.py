"""Syntha's module names are real modules at the root; nothing else is aliased."""

from __future__ import annotations

import importlib

import pytest

SYNTHA_MODULES = ["context", "tools", "tool_factory", "framework_adapters", "prompts",
                  "exceptions", "logging", "persistence", "reports"]


@pytest.mark.parametrize("name", SYNTHA_MODULES)
def test_syntha_module_names_are_real_modules_at_the_root(name: str) -> None:
    module = importlib.import_module(f"syntha_redis.{name}")
    assert module.__name__ == f"syntha_redis.{name}"  # a file, not an alias
    assert getattr(module, "__all__", None)


def test_a_root_shim_hands_on_the_same_objects() -> None:
    from syntha_redis.agents.adapters import OpenAIAdapter
    from syntha_redis.framework_adapters import OpenAIAdapter as FromSyntha

    assert FromSyntha is OpenAIAdapter


@pytest.mark.parametrize("old", ["syntha_redis.store", "syntha_redis.tool_handler"])
def test_pre_folder_module_paths_are_gone(old: str) -> None:
    # 0.1.0 had no users of the pre-folder paths: no import hook answers for them
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
