"""Names of flows and deployments, shared by the flow registry and the API's launcher."""

from __future__ import annotations

DEPLOYMENT = "xieshang"
WORK_POOL = "xieshang-pool"

# Stage flows are named by their declarations (models/stages.py: "stage-<stage>").
FOLLOW_UP_FLOW = "follow-up"
# Delivers what a person's action queued, seconds after the action commits.
DELIVERY_FLOW = "deliver-outbox"


def deployment_ref(flow_name: str) -> str:
    return f"{flow_name}/{DEPLOYMENT}"


WEEKLY_DISPATCH_FLOW = "weekly-dispatch"
MONTHLY_BULLETIN_FLOW = "monthly-bulletin"
QUARTERLY_REVIEW_FLOW = "quarterly-review"

# Recurring runs, Asia/Shanghai (see shared/design/DOMAIN.md "Recurring runs").
SCHEDULE_TIMEZONE = "Asia/Shanghai"
WEEKLY_DISPATCH_CRON = "0 9 * * 1"
MONTHLY_BULLETIN_CRON = "0 9 1 * *"
QUARTERLY_REVIEW_CRON = "0 9 1 1,4,7,10 *"
