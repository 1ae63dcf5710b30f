"""prefect.yaml is valid offline: every entrypoint imports a named flow whose parameters match."""

from __future__ import annotations

import importlib
import inspect

import pytest
import yaml
from prefect import Flow

from feedbackloop.settings import PROJECT_ROOT

CONFIG = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
DEPLOYMENTS = CONFIG["deployments"]


def load_flow(entrypoint: str) -> Flow:
    path, func = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, func)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_is_a_flow_named_like_its_deployment(deployment: dict) -> None:
    flow = load_flow(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    assert flow.name == deployment["name"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_parameters_exist_on_the_flow(deployment: dict) -> None:
    flow = load_flow(deployment["entrypoint"])
    accepted = set(inspect.signature(flow.fn).parameters)
    assert set(deployment.get("parameters") or {}) <= accepted


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_uses_the_shared_work_pool(deployment: dict) -> None:
    assert deployment["work_pool"]["name"] == CONFIG["definitions"]["work_pools"]["process"]["name"]


def test_every_flow_in_flows_has_a_deployment() -> None:
    names = {d["name"] for d in DEPLOYMENTS}
    flows = set()
    for path in (PROJECT_ROOT / "flows").glob("*.py"):
        module = importlib.import_module(f"flows.{path.stem}")
        flows |= {
            obj.name for obj in vars(module).values() if isinstance(obj, Flow) and obj.__module__ == module.__name__
        }
    assert flows <= names
