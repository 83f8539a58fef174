"""Server-rendered pages for the people of the loop, on the same app as the API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages import (
    act,
    admin,
    approvals,
    bulletins,
    calendar,
    evaluations,
    items,
    kpis,
    member,
    notifications,
    office_items,
    propose,
)
from api.pages.render import HERE
from api.pages.routes import router


def install(app: FastAPI) -> None:
    """The pages' routes (outside the OpenAPI) and their stylesheet."""
    app.include_router(router)
    app.include_router(items.router)
    app.include_router(approvals.router)
    app.include_router(admin.router)
    app.include_router(act.router)  # after the API's /act/{token} (JSON), which passes pages by
    app.include_router(member.router)
    app.include_router(evaluations.router)
    app.include_router(notifications.router)
    app.include_router(office_items.router)
    app.include_router(kpis.router)
    app.include_router(propose.router)
    app.include_router(calendar.router)
    app.include_router(bulletins.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
