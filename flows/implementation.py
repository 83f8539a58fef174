"""落实整改 — one problem, one plan; every item deadline on its ladder.

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

implementation_stage = STAGE_FLOWS[Stage.IMPLEMENTATION]
