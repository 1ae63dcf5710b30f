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


def test_prefect_yaml_matches_prefects_own_deploy_schema() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(CONFIG)
    assert [d.name for d in model.deployments] == [d["name"] for d in DEPLOYMENTS]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_schedule_parameters_exist_on_the_flow(deployment: dict) -> None:
    accepted = set(inspect.signature(load_flow(deployment["entrypoint"]).fn).parameters)
    for schedule in deployment.get("schedules") or []:
        assert set(schedule.get("parameters") or {}) <= accepted, schedule


def test_the_pipeline_runs_an_hourly_micro_batch_and_a_daily_full_pass() -> None:
    (pipeline,) = [d for d in DEPLOYMENTS if d["name"] == "feedback-pipeline"]
    schedules = {s["slug"]: s for s in pipeline["schedules"]}
    assert schedules["hourly-micro-batch"]["cron"] == "15 * * * *"
    assert schedules["hourly-micro-batch"]["parameters"] == {"force": False}
    assert schedules["daily-full-pass"]["cron"] == "0 3 * * *"
    assert schedules["daily-full-pass"]["parameters"] == {"force": True}


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_every_deployment_runs_one_at_a_time(deployment: dict) -> None:
    limit = deployment["concurrency_limit"]
    assert limit["limit"] == 1
    assert limit["collision_strategy"] in {"ENQUEUE", "CANCEL_NEW"}


def test_flow_runs_are_retried_through_the_pools_prefect_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import Settings as PrefectSettings

    env = CONFIG["definitions"]["work_pools"]["process"]["job_variables"]["env"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    flows = PrefectSettings().flows  # the names must be settings Prefect reads
    assert flows.default_retries == int(env["PREFECT_FLOWS_DEFAULT_RETRIES"]) >= 1
    assert flows.default_retry_delay_seconds == int(env["PREFECT_FLOWS_DEFAULT_RETRY_DELAY_SECONDS"])
