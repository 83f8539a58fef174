"""The FastAPI application: migrates the case file on start, then serves the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlmodel import Session

from api import auth, errors, idempotency, limits, pages, versions
from api.deps import IfMatch
from api.launcher import installation_id
from api.routes import actions, admin, dispatch, evaluations, evidence, links, people, topics
from api.routes.bulletins import router as bulletins_router
from api.routes.calendar import router as calendar_router
from api.routes.chain import router as chain_router
from api.routes.ledger import router as ledger_router
from config.db import get_engine, migrate


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    migrate()
    with Session(get_engine()) as session:
        installation_id(session)
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="协商 Xieshang",
        description="“有事好商量”协商议事闭环：议题 → 主体 → 调研 → 协商 → 成果 → 转交 → 整改 → 评估",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (
        auth.router,
        links.router,
        people.router,
        topics.router,
        actions.router,
        evidence.router,
        evaluations.router,
        admin.router,
        dispatch.router,
        calendar_router,
        bulletins_router,
        chain_router,
        ledger_router,
    ):
        app.include_router(router, responses=errors.ERROR_RESPONSES, dependencies=[IfMatch])
    pages.install(app)  # outside the OpenAPI: the API's schema describes the API only
    versions.send_etags(app)
    idempotency.install(app)
    limits.install(app)  # outermost: an oversized body is refused before anything reads it
    errors.document_errors(app, versions.document, idempotency.document)

    @app.get("/health", tags=["admin"])
    def health() -> dict:
        return {"status": "ok"}

    return app
