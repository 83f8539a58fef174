"""三单联动: a topic's chain in one call, and its three lists as XLSX and CSV."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.auth import CaseReader
from api.deps import PathId, SessionDep
from api.routes.ledger import attachment
from models import chain
from models.chain import ListName

router = APIRouter(prefix="/topics", tags=["chain"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/{topic_id:int}/chain", response_model=chain.ChainPublic)
def read_chain(topic_id: PathId, session: SessionDep, _: CaseReader) -> chain.ChainPublic:
    """Opinion → suggestion → item → plan → progress → evidence → rating → re-check: every
    record of the topic with the ids of its parents and its children."""
    return chain.chain(session, topic_id)


@router.get(
    "/{topic_id:int}/lists.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "三单（问题清单、任务清单、责任清单）"}},
)
def lists_xlsx(topic_id: PathId, session: SessionDep, _: CaseReader) -> Response:
    """The three lists, one sheet each, the links between them as columns of ids."""
    body = chain.export_xlsx(session, topic_id)
    return Response(body, media_type=XLSX, headers=attachment(f"议题{topic_id}-三单.xlsx"))


@router.get(
    "/{topic_id:int}/lists/{name}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "一张清单（UTF-8，带 BOM）"}},
)
def list_csv(topic_id: PathId, name: ListName, session: SessionDep, _: CaseReader) -> Response:
    """One list as CSV (UTF-8 with a BOM, so Excel shows the Chinese): suggestions (问题清单),
    items (任务清单) or responsibilities (责任清单)."""
    body = chain.export_csv(session, topic_id, name)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"议题{topic_id}-{name.label}.csv"),
    )
