"""报送成果 — compile the list of opinions and suggestions into a report for approval.

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

report_stage = STAGE_FLOWS[Stage.REPORT]
