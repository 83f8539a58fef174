"""`xieshang audit …`: check the audit trail's hash chain, keep its checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="审计链：校验与校验点", no_args_is_help=True)


@app.command()
def verify(
    checkpoint: Path | None = typer.Option(None, help="校验点文件；默认 XS_AUDIT_CHECKPOINT"),
) -> None:
    """Recompute the whole chain; name the first bad event and exit 1 if anything was changed."""
    from config.db import session_scope
    from config.settings import get_settings
    from models import audit
    from tasks.audit import read_checkpoint

    settings = get_settings()
    saved = read_checkpoint(checkpoint)
    with session_scope() as session:
        verdict = audit.verify(session, checkpoint=saved, key=settings.secret())
    if saved is None:
        typer.echo(
            "提示：尚无校验点文件，无法发现最新记录被整体删除（xieshang audit checkpoint 生成）"
        )
    if verdict.ok:
        typer.echo(verdict.message)
        return
    where = ""
    if verdict.bad_id is not None:
        where = f"（审计记录 id={verdict.bad_id}" + (
            f"，序号 {verdict.bad_seq}）" if verdict.bad_seq is not None else "）"
        )
    typer.echo(f"审计链校验失败：{verdict.message}{where}", err=True)
    typer.echo(f"此前 {verdict.events} 条记录完好（至第 {verdict.head_seq} 条）", err=True)
    raise typer.Exit(1)


@app.command()
def checkpoint(
    path: Path | None = typer.Option(None, help="校验点文件；默认 XS_AUDIT_CHECKPOINT"),
) -> None:
    """Write the signed checkpoint of the chain head now (the recurring sweep also does)."""
    from tasks.audit import write_checkpoint

    saved = write_checkpoint(path)
    typer.echo(f"校验点已记录：第 {saved['seq']} 条，{saved['hash'][:16]}…（{saved['at']}）")
