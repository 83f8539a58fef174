"""Names of flows and deployments, shared by the flow registry and the API's launcher."""

from __future__ import annotations

DEPLOYMENT = "xieshang"
WORK_POOL = "xieshang-pool"

# Stage flows are named by their declarations (models/stages.py: "stage-<stage>").
FOLLOW_UP_FLOW = "follow-up"
# Delivers what a person's action queued, at once after the action commits (a flow the
# serving process calls in a thread; no deployment).
DELIVERY_FLOW = "deliver-outbox"


def deployment_ref(flow_name: str) -> str:
    return f"{flow_name}/{DEPLOYMENT}"


WEEKLY_DISPATCH_FLOW = "weekly-dispatch"
MONTHLY_BULLETIN_FLOW = "monthly-bulletin"
QUARTERLY_REVIEW_FLOW = "quarterly-review"
# Applies a department's checked 台账 (on demand, one run per apply).
LEDGER_IMPORT_FLOW = "ledger-import"

# Recurring runs, Asia/Shanghai (see shared/design/DOMAIN.md "Recurring runs").
SCHEDULE_TIMEZONE = "Asia/Shanghai"
WEEKLY_DISPATCH_CRON = "0 9 * * 1"
MONTHLY_BULLETIN_CRON = "0 9 1 * *"
QUARTERLY_REVIEW_CRON = "0 9 1 1,4,7,10 *"

# Capacity: stage runs that people start are served apart from the background runs (the
# recurring ones), each with its own slots, so a busy sweep never keeps a
# person's stage waiting. `serve` runs one runner per group; workers at scale poll one work
# queue per group (prefect.yaml).
STAGE_QUEUE = "stages"
BACKGROUND_QUEUE = "background"

# Recurring runs never overlap themselves: at most one run per deployment is in flight. A
# sweep or dispatch that comes due while the last one still runs would find nothing the
# running one does not handle, so the extra run is dropped (CANCEL_NEW); a bulletin may be for
# another period, so it waits its turn (ENQUEUE). The launcher returns the run already queued
# or running for the same parameters instead of starting another.
SINGLE_FLIGHT: dict[str, str] = {
    FOLLOW_UP_FLOW: "CANCEL_NEW",
    WEEKLY_DISPATCH_FLOW: "CANCEL_NEW",
    MONTHLY_BULLETIN_FLOW: "ENQUEUE",
    QUARTERLY_REVIEW_FLOW: "ENQUEUE",
}
