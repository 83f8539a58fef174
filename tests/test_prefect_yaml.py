"""prefect.yaml (for workers at scale) and flows/registry.py (for `serve`) declare the same
deployments, so scale-out runs exactly what the embedded default runs."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from config.deployments import DEPLOYMENT, WORK_POOL

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


def test_every_entrypoint_resolves_to_a_flow_with_the_registered_name():
    from prefect import Flow

    for dep in _declared():
        assert dep["name"] == DEPLOYMENT
        assert dep["work_pool"]["name"] == WORK_POOL
        path, func = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, func), Flow), dep["entrypoint"]


async def test_served_deployments_are_declared_for_workers():
    from flows.registry import deployments

    served = {d.flow_name for d in await deployments()}
    declared = set()
    for dep in _declared():
        path, func = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        declared.add(getattr(module, func).name)
    assert served == declared


async def test_workers_keep_the_capacity_and_overlap_rules_of_serve():
    """Stage runs and background runs poll queues of their own; recurring runs carry the same
    single-flight limit as the served deployments."""
    from config.deployments import BACKGROUND_QUEUE, STAGE_QUEUE
    from flows.registry import background_deployments, stage_deployments

    stage_names = {d.flow_name for d in await stage_deployments()}
    served = {d.flow_name: d for d in await background_deployments()}
    for dep in _declared():
        path, func = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        name = getattr(module, func).name
        queue = dep["work_pool"]["work_queue_name"]
        if name in stage_names:
            assert queue == STAGE_QUEUE and "concurrency_limit" not in dep, name
            continue
        assert queue == BACKGROUND_QUEUE, name
        runner = served[name]
        declared = dep.get("concurrency_limit")
        if runner.concurrency_limit is None:
            assert declared is None, name
        else:
            assert declared == {
                "limit": runner.concurrency_limit,
                "collision_strategy": runner.concurrency_options.collision_strategy.value,
            }, name
