"""dbt commands run on a short stack of their own (feedbackloop.transform.dbt._invoke)."""

from __future__ import annotations

import inspect
import threading
from contextvars import ContextVar
from typing import Any

import pytest

from feedbackloop.transform.dbt import _invoke

probe: ContextVar[str] = ContextVar("probe", default="unset")


class Runner:
    """Stands where dbtRunner stands: reports what a command would see."""

    def invoke(self, args: list[str]) -> dict[str, Any]:
        thread = threading.current_thread().name
        return {"thread": thread, "probe": probe.get(), "args": args, "depth": len(inspect.stack(0))}


def test_a_command_runs_on_its_own_thread_with_the_callers_context() -> None:
    probe.set("caller")
    outcome = _invoke(Runner(), ("build", "--select", "silver"))
    assert (outcome["thread"], outcome["probe"], outcome["args"]) == ("dbt", "caller", ["build", "--select", "silver"])


def test_a_command_sees_none_of_the_callers_stack() -> None:
    def deep(n: int) -> dict[str, Any]:
        return deep(n - 1) if n else _invoke(Runner(), ["run"])

    assert deep(50)["depth"] < 10


def test_an_error_inside_the_command_is_raised_to_the_caller() -> None:
    class Broken:
        def invoke(self, args: list[str]) -> None:
            raise RuntimeError("adapter missing")

    with pytest.raises(RuntimeError, match="adapter missing"):
        _invoke(Broken(), ["run"])
