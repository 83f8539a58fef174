"""Sign-in as the people of the loop meet it: passwords, tokens, the pages' cookie with its CSRF
token, API keys for machines, lockout and rate limits, and the refusal of a weak secret."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from config.settings import Settings, get_settings
from models.tables import Account, AuditEvent, Person
from tests.conftest import ANONYMOUS

PASSWORD = "长城-春眠不觉晓-2026"


def _account(client, person, login: str = "liqiang", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    r = client.put(f"/people/{person.id}/account", json={"login": login, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def _token(client, login: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/auth/token", data={"username": login, "password": password}, headers=ANONYMOUS
    )


def test_a_person_signs_in_with_a_password_and_acts_as_himself(client, loop, session):
    officer = loop.cast.officer
    assert _account(client, officer) == {
        "person_id": officer.id,
        "login": "liqiang",
        "locked_until": None,
    }
    stored = session.get(Account, officer.id)
    assert stored.password_hash.startswith("$argon2") and PASSWORD not in stored.password_hash

    r = _token(client, "liqiang", PASSWORD)
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    assert r.json()["expires_in"] == get_settings().token_minutes * 60
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert (
        me.status_code == 200 and me.json()["id"] == officer.id and me.json()["role"] == "officer"
    )
    # Nothing about the password reaches the audit trail.
    trail = session.exec(select(AuditEvent).where(AuditEvent.action == "password_set")).all()
    assert trail and all(PASSWORD not in str(e.detail) for e in trail)


def test_wrong_passwords_and_unknown_logins_read_the_same_and_lock_the_account(
    client, loop, time_machine
):
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False)
    _account(client, loop.cast.officer)
    unknown = _token(client, "nobody", PASSWORD)
    wrong = _token(client, "liqiang", "不是这个密码的密码")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() == {"detail": "登录名或密码不正确"}
    assert wrong.headers["WWW-Authenticate"] == "Bearer"

    attempts = get_settings().sign_in_failures
    for _ in range(attempts - 2):
        assert _token(client, "liqiang", "还是不对的密码啊").status_code == 401
    locked = _token(client, "liqiang", "最后一次错误密码")
    assert (
        locked.status_code == 401 and "账号已锁定至 2026年12月02日 17:15" in locked.json()["detail"]
    )
    # While locked, even the right password is refused; after the lockout it works again.
    assert "已锁定" in _token(client, "liqiang", PASSWORD).json()["detail"]
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, 16, tzinfo=dt.UTC), tick=False)
    assert _token(client, "liqiang", PASSWORD).status_code == 200


def test_a_new_password_ends_every_earlier_token(client, loop, time_machine):
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False)
    _account(client, loop.cast.officer)
    old = _token(client, "liqiang", PASSWORD).json()["access_token"]
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, 5, tzinfo=dt.UTC), tick=False)
    _account(client, loop.cast.officer, password="新的密码-夜来风雨声")
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and "密码已修改" in r.json()["detail"]
    assert _token(client, "liqiang", PASSWORD).status_code == 401
    assert _token(client, "liqiang", "新的密码-夜来风雨声").status_code == 200


def test_tokens_expire_and_forged_ones_are_refused(client, loop, time_machine):
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False)
    _account(client, loop.cast.officer)
    token = _token(client, "liqiang", PASSWORD).json()["access_token"]
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, 31, tzinfo=dt.UTC), tick=False)
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["detail"] == "登录已过期，请重新登录"
    head, body, _ = token.split(".")
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {head}.{body}.forged"})
    assert r.status_code == 401 and r.json()["detail"] == "登录凭据无效，请重新登录"


def test_the_pages_cookie_is_httponly_and_writes_need_the_csrf_token(client, loop, session):
    admin = loop.cast.admin
    _account(client, admin, login="wangmin")
    r = client.post(
        "/auth/sign-in", json={"login": "wangmin", "password": PASSWORD}, headers=ANONYMOUS
    )
    assert r.status_code == 200 and r.json()["person"]["id"] == admin.id
    cookie = r.headers.get_list("set-cookie")[0]
    assert cookie.startswith("xs_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    csrf = r.json()["csrf_token"]
    session_cookie = client.cookies.get("xs_session")
    client.cookies.clear()
    jar = {"xs_session": session_cookie}

    def call(method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
        client.cookies.update(jar)
        try:
            return client.request(method, url, headers=kwargs.pop("headers", ANONYMOUS), **kwargs)
        finally:
            client.cookies.clear()

    assert call("GET", "/auth/me").json()["id"] == admin.id
    before = len(session.exec(select(Person)).all())
    body = {"name": "新来的联络员", "role": "resident"}
    refused = call("POST", "/people", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = call("POST", "/people", json=body, headers={**ANONYMOUS, "X-CSRF-Token": "x" * 40})
    assert wrong.status_code == 403
    assert len(session.exec(select(Person)).all()) == before
    ok = call("POST", "/people", json=body, headers={**ANONYMOUS, "X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    out = call("POST", "/auth/sign-out", headers={**ANONYMOUS, "X-CSRF-Token": csrf})
    assert out.status_code == 204 and 'xs_session=""' in out.headers["set-cookie"]


def test_signing_out_everywhere_ends_every_token(client, loop):
    _account(client, loop.cast.officer)
    token = _token(client, "liqiang", PASSWORD).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/auth/sign-out?everywhere=true", headers=bearer).status_code == 204
    assert client.get("/auth/me", headers=bearer).status_code == 401


def test_api_keys_act_as_their_person_until_revoked(client, loop, session):
    from models import accounts

    row, key = accounts.create_api_key(session, loop.cast.admin.id, "12345 热线对接")
    session.commit()
    stored = session.get(type(row), row.id)
    assert key not in stored.key_hash and stored.prefix == key[:10]
    machine = {**ANONYMOUS, "X-API-Key": key}
    assert client.get("/auth/me", headers=machine).json()["id"] == loop.cast.admin.id
    accounts.revoke_api_key(session, row.id)
    session.commit()
    r = client.get("/auth/me", headers=machine)
    assert r.status_code == 401 and r.json()["detail"] == "API 密钥无效或已吊销"
    r = client.get("/auth/me", headers={**ANONYMOUS, "X-API-Key": "xs_madeup"})
    assert r.status_code == 401


def test_no_credentials_may_only_propose(client):
    r = client.post(
        "/topics", json={"title": "夜市噪声扰民", "source": "public"}, headers=ANONYMOUS
    )
    assert r.status_code == 201 and r.json()["proposer_id"] is None
    r = client.get(f"/topics/{r.json()['id']}", headers=ANONYMOUS)
    assert r.status_code == 401 and r.json()["detail"] == "请先登录"
    assert client.get("/topics", headers=ANONYMOUS).status_code == 401


@pytest.fixture
def tight_limits(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from api.auth import _limiter

    monkeypatch.setenv("XS_SIGN_IN_PER_MINUTE", "3")
    monkeypatch.setenv("XS_ACTIONS_PER_MINUTE", "2")
    get_settings.cache_clear()
    _limiter().storage.reset()
    yield
    get_settings.cache_clear()
    _limiter().storage.reset()


def test_sign_in_and_actions_are_rate_limited(client, loop, tight_limits):
    for _ in range(3):
        assert _token(client, "nobody", "whatever-password").status_code == 401
    r = _token(client, "nobody", "whatever-password")
    assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    assert r.json()["detail"] == "登录尝试过于频繁，请一分钟后再试"
    body = {"title": "路灯不亮", "source": "public"}
    assert client.post("/topics", json=body, headers=ANONYMOUS).status_code == 201
    assert (
        client.post("/topics", json=body | {"title": "井盖缺失"}, headers=ANONYMOUS).status_code
        == 201
    )
    r = client.post("/topics", json=body | {"title": "占道经营"}, headers=ANONYMOUS)
    assert r.status_code == 429 and "操作过于频繁" in r.json()["detail"]
    # Reads are not limited, and one person's limit is his own.
    assert client.get("/topics", headers=client.as_(loop.cast.admin)).status_code == 200


def test_outside_development_a_weak_or_missing_secret_refuses_to_start():
    for weak in (None, "", "changeme", "short-secret", "a" * 40):
        with pytest.raises(ValueError, match="XS_SECRET_KEY"):
            Settings(environment="production", secret_key=weak)
    good = Settings(environment="production", secret_key="9f1c2b7e" * 8)
    assert not good.development


def test_the_command_line_adds_users_changes_passwords_and_issues_keys(committed_db):
    from config.db import engine_for, session_scope
    from models import accounts
    from runtime.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["user", "add", "wangmin", "--name", "王敏", "--role", "administrator"])
    assert r.exit_code == 0, r.output
    assert "登录名 wangmin" in r.output and "初始密码：" in r.output
    first = r.output.split("初始密码：")[1].split()[0]
    with session_scope(engine_for(committed_db)) as s:
        person = accounts.authenticate(s, "wangmin", first)
        person_id = person.id
    r = runner.invoke(app, ["user", "passwd", "wangmin", "--password", "短"])
    assert r.exit_code == 1 and "密码至少 10 个字符" in r.output
    r = runner.invoke(app, ["user", "passwd", "wangmin", "--password", PASSWORD])
    assert r.exit_code == 0 and "全部失效" in r.output
    r = runner.invoke(app, ["user", "passwd", "nobody", "--password", PASSWORD])
    assert r.exit_code == 1 and "不存在" in r.output

    r = runner.invoke(app, ["apikey", "create", str(person_id), "--name", "热线对接"])
    assert r.exit_code == 0, r.output
    key = next(line for line in r.output.splitlines() if line.startswith("xs_"))
    with session_scope(engine_for(committed_db)) as s:
        assert accounts.person_for_key(s, key).id == person_id
    key_id = r.output.split("已签发密钥 ")[1].split("（")[0]
    r = runner.invoke(app, ["apikey", "revoke", key_id])
    assert r.exit_code == 0 and "已吊销" in r.output
    with session_scope(engine_for(committed_db)) as s:
        assert accounts.person_for_key(s, key) is None
