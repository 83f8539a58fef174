"""`xieshang user …` and `xieshang apikey …`: accounts and machine keys, from the server's shell."""

from __future__ import annotations

import secrets

import typer

from models.enums import Role

user_app = typer.Typer(help="登录账号：新建人员账号、修改密码", no_args_is_help=True)
apikey_app = typer.Typer(help="API 密钥：为机器客户端签发、吊销", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _password(given: str | None) -> tuple[str, bool]:
    """The given password, or a random one that is printed once."""
    if given:
        return given, False
    return secrets.token_urlsafe(12), True


@user_app.command("add")
def add(
    login: str = typer.Argument(..., help="登录名"),
    name: str = typer.Option(..., "--name", help="姓名"),
    role: Role = typer.Option(..., "--role", help="角色"),
    department_id: int | None = typer.Option(None, "--department", help="所属单位编号"),
    email: str | None = typer.Option(None, help="邮箱"),
    phone: str | None = typer.Option(None, help="手机"),
    password: str | None = typer.Option(
        None, help="密码（至少 10 个字符）；不给时随机生成并只显示这一次"
    ),
) -> None:
    """Register a person with a sign-in account."""
    from config.db import migrate, session_scope
    from models import accounts, people
    from models.errors import DomainError

    migrate()
    secret, generated = _password(password)
    try:
        with session_scope() as session:
            person = people.create_person(
                session,
                people.PersonCreate(
                    name=name, role=role, department_id=department_id, email=email, phone=phone
                ),
            )
            accounts.set_password(session, person.id or 0, login, secret)
            person_id = person.id
    except (DomainError, ValueError) as exc:
        _fail(f"未新建：{getattr(exc, 'message', exc)}")
    typer.echo(f"已新建人员 {person_id}（{name}，{role.value}），登录名 {login}")
    if generated:
        typer.echo(f"初始密码：{secret}    （只显示这一次，请转交本人并提醒修改）")


@user_app.command("passwd")
def passwd(
    login: str = typer.Argument(..., help="登录名"),
    password: str | None = typer.Option(None, help="新密码；不给时随机生成并只显示这一次"),
) -> None:
    """Set a new password; every token issued before stops being honoured, a lockout ends."""
    from sqlmodel import select

    from config.db import session_scope
    from models import accounts
    from models.errors import DomainError
    from models.tables import Account

    secret, generated = _password(password)
    try:
        with session_scope() as session:
            account = session.exec(select(Account).where(Account.login == login)).first()
            if account is None:
                _fail(f"登录名“{login}”不存在")
                return
            accounts.set_password(session, account.person_id, login, secret)
    except DomainError as exc:
        _fail(f"未修改：{exc.message}")
    typer.echo(f"已为 {login} 设置新密码，此前签发的登录令牌全部失效")
    if generated:
        typer.echo(f"新密码：{secret}    （只显示这一次）")


@apikey_app.command("create")
def create(
    person_id: int = typer.Argument(..., help="密钥代表的人员编号"),
    name: str = typer.Option(..., "--name", help="用途，例如“12345 热线对接”"),
) -> None:
    """Issue a key; only its hash is kept, so it is shown this once."""
    from config.db import session_scope
    from models import accounts
    from models.errors import DomainError

    try:
        with session_scope() as session:
            row, key = accounts.create_api_key(session, person_id, name)
            key_id = row.id
    except DomainError as exc:
        _fail(f"未签发：{exc.message}")
    typer.echo(f"已签发密钥 {key_id}（{name}），请求头 X-API-Key：")
    typer.echo(key)
    typer.echo("（只显示这一次；遗失后请吊销并重新签发）")


@apikey_app.command("revoke")
def revoke(key_id: int = typer.Argument(..., help="密钥编号")) -> None:
    """Revoke a key at once."""
    from config.db import session_scope
    from models import accounts
    from models.errors import DomainError

    try:
        with session_scope() as session:
            accounts.revoke_api_key(session, key_id)
    except DomainError as exc:
        _fail(f"未吊销：{exc.message}")
    typer.echo(f"密钥 {key_id} 已吊销，此后用它的请求一律拒绝")
