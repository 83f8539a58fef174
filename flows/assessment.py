"""评估质效 — rating requests; the office closes and discloses the result list.

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

assessment_stage = STAGE_FLOWS[Stage.ASSESSMENT]
