"""Recurring runs on demand: the weekly dispatch (周调度) now, beside its Monday schedule."""

from __future__ import annotations

from fastapi import APIRouter

from api import launcher
from api.auth import OfficeBrief

router = APIRouter(prefix="/dispatch", tags=["dispatch"])


@router.post("/weekly", response_model=launcher.FlowRunPublic, status_code=202)
async def weekly_now(_: OfficeBrief) -> launcher.FlowRunPublic:
    """Start the weekly dispatch now; digests are keyed per ISO week, so none goes out twice."""
    return await launcher.launch_weekly_dispatch()
