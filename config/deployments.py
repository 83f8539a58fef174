"""Names of flows and deployments, shared by the flow registry and the API's launcher."""

from __future__ import annotations

DEPLOYMENT = "xieshang"
WORK_POOL = "xieshang-pool"

STAGE_FLOWS = {
    "topic": "stage-topic",
    "subject": "stage-subject",
    "prestudy": "stage-prestudy",
    "session": "stage-session",
    "report": "stage-report",
    "transfer": "stage-transfer",
    "implementation": "stage-implementation",
    "assessment": "stage-assessment",
}
FOLLOW_UP_FLOW = "follow-up"


def deployment_ref(flow_name: str) -> str:
    return f"{flow_name}/{DEPLOYMENT}"
