"""确定议题 — screening and the request for approval.

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

topic_stage = STAGE_FLOWS[Stage.TOPIC]
