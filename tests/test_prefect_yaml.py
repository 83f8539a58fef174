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
