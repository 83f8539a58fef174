"""月通报与季评估: run one now, list them, download their HTML, PDF and XLSX files."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import Field, StrictBool

from api import launcher
from api.auth import BulletinReader, OfficeBrief
from api.deps import Limit, Offset, PathId, ReadSessionDep, SessionDep
from models import bulletin
from models.base import Body
from models.bulletin import FORMAT_LABELS, BulletinKind, FileFormat
from models.case import get
from models.errors import NotFound
from models.tables import Bulletin

router = APIRouter(prefix="/bulletins", tags=["bulletins"])


class BulletinRun(Body):
    """Which period to report; empty means the last full month (quarter), or with `interim`
    the running one."""

    period: str | None = Field(
        default=None, max_length=20, description="2026-10、2026-10-01 或 2026Q4；留空为上一期"
    )
    interim: StrictBool = Field(
        default=False,
        description="中期通报：用于尚未结束的本期，统计到生成时刻，各处标明“中期，截至某日”",
    )


async def _launch(kind: BulletinKind, data: BulletinRun | None) -> launcher.FlowRunPublic:
    data = data or BulletinRun()
    return await launcher.launch_bulletin_on_demand(kind, data.period, interim=data.interim)


@router.post("/monthly", response_model=launcher.FlowRunPublic, status_code=202)
async def run_monthly(_: OfficeBrief, data: BulletinRun | None = None) -> launcher.FlowRunPublic:
    """Generate the monthly bulletin now (besides the run on the 1st at 09:00): a month that
    has ended, or with `interim` the running month so far."""
    return await _launch(BulletinKind.MONTHLY, data)


@router.post("/quarterly", response_model=launcher.FlowRunPublic, status_code=202)
async def run_quarterly(_: OfficeBrief, data: BulletinRun | None = None) -> launcher.FlowRunPublic:
    """Generate the quarterly review now (besides the run on the first day of a quarter): a
    quarter that has ended, or with `interim` the running quarter so far."""
    return await _launch(BulletinKind.QUARTERLY, data)


@router.get("", response_model=bulletin.BulletinsPublic)
def list_bulletins(
    session: ReadSessionDep,
    _: BulletinReader,
    kind: BulletinKind | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> bulletin.BulletinsPublic:
    """Newest period first."""
    rows = bulletin.list_bulletins(session, kind=kind, limit=limit, offset=offset)
    return bulletin.BulletinsPublic(data=[bulletin.public(r) for r in rows.data], count=rows.count)


def _bulletin(session: SessionDep, bulletin_id: int) -> Bulletin:
    try:
        return get(session, Bulletin, bulletin_id)
    except NotFound:
        raise NotFound(f"通报 {bulletin_id} 不存在") from None


@router.get("/{bulletin_id:int}", response_model=bulletin.BulletinDetail)
def read_bulletin(
    bulletin_id: PathId, session: ReadSessionDep, _: BulletinReader
) -> bulletin.BulletinPublic:
    return bulletin.public(_bulletin(session, bulletin_id), detail=True)


@router.get(
    "/{bulletin_id:int}/files/{fmt}",
    response_class=FileResponse,
    responses={404: {"description": "通报或文件不存在"}},
)
def download(
    bulletin_id: PathId, fmt: FileFormat, session: ReadSessionDep, _: BulletinReader
) -> FileResponse:
    """The file itself; HTML and PDF open in the browser, the XLSX downloads."""
    row = _bulletin(session, bulletin_id)
    path = bulletin.file_path(row, fmt)
    if path is None:
        raise NotFound(f"通报 {bulletin_id} 的{FORMAT_LABELS[fmt]}文件不存在（尚未生成或已被清理）")
    return FileResponse(
        path,
        media_type=bulletin.MEDIA_TYPES[fmt],
        filename=bulletin.download_name(row, fmt),
        content_disposition_type="attachment" if fmt is FileFormat.XLSX else "inline",
    )
