"""转交办理 — hand each item to one lead department and ask for 签收.

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

transfer_stage = STAGE_FLOWS[Stage.TRANSFER]
