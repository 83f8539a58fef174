"""开展协商 — the session notice; opinions and consensus are recorded by people.

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

session_stage = STAGE_FLOWS[Stage.SESSION]
