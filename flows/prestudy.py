"""商前调研 — research assignments (不调研不协商).

The flow is built from the stage's declaration (models/stages.py); this module is the
entrypoint prefect.yaml names."""

from __future__ import annotations

from flows.stages import STAGE_FLOWS
from models.enums import Stage

prestudy_stage = STAGE_FLOWS[Stage.PRESTUDY]
