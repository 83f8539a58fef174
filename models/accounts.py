"""Sign-in accounts and API keys: who a request acts as.

Passwords are kept as argon2 hashes (pwdlib); API keys are long random strings of which only a
SHA-256 is stored, so a copy of the database gives away neither. Nothing here commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import Field
from sqlmodel import Session, select

from config.settings import get_settings
from models.base import Body, utcnow
from models.case import audit, get
from models.errors import Conflict, Invalid, NotFound, NotSignedIn
from models.tables import Account, AccountRecord, ApiKey, Person

LOGIN_PATTERN = r"^[A-Za-z0-9_.@-]{2,64}$"
MIN_PASSWORD = 10
KEY_PREFIX = "xs_"


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


# Verified against when a login does not exist, so an unknown name costs as long as a wrong
# password and does not reveal which logins exist.
@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_hex(16))


class SignInIn(Body):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class AccountIn(Body):
    """Request body: the office gives a person a login and an initial password."""

    login: str = Field(min_length=2, max_length=64, pattern=LOGIN_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)


class AccountPublic(AccountRecord):
    """An account as the office sees it (never its hash)."""


def check_password(password: str, login: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"密码至少 {MIN_PASSWORD} 个字符", field="password")
    if password.lower() in {login.lower(), "password12", "1234567890", "xieshang123"}:
        raise Invalid("密码太容易猜到，请换一个", field="password")


def set_password(
    session: Session,
    person_id: int,
    login: str | None,
    password: str,
    *,
    by: Person | None = None,
) -> Account:
    """Create the person's account, or change its password (and its login if given): tokens
    issued before are no longer honoured."""
    person = get(session, Person, person_id)
    account = session.get(Account, person_id)
    login = login or (account.login if account else None)
    if not login or not re.match(LOGIN_PATTERN, login):
        raise Invalid("登录名为 2–64 个字母、数字或 . _ @ -", field="login")
    taken = session.exec(select(Account).where(Account.login == login)).first()
    if taken is not None and taken.person_id != person_id:
        raise Conflict(f"登录名“{login}”已被占用")
    check_password(password, login)
    now = utcnow()
    if account is None:
        account = Account(person_id=person_id, login=login, password_hash="", created_at=now)
        session.add(account)
    account.login = login
    account.password_hash = _hasher().hash(password)
    account.failed_sign_ins = 0
    account.locked_until = None
    account.tokens_valid_from = now
    # Never the password or its hash: only that it was set, for whom, by whom.
    audit(session, action="password_set", topic_id=None, actor=by, person_id=person.id, login=login)
    return account


def authenticate(
    session: Session, login: str, password: str, *, now: dt.datetime | None = None
) -> Person:
    """The person behind a login and password, or a refusal that says only what a person may
    know: a wrong login and a wrong password read the same; a locked account says until when.
    Failures are counted (the caller commits them even though it refuses)."""
    settings = get_settings()
    now = now or utcnow()
    account = session.exec(select(Account).where(Account.login == login).with_for_update()).first()
    if account is None:
        _hasher().verify(password, _dummy_hash())
        raise SignInRefused("登录名或密码不正确")
    if account.locked_until is not None and account.locked_until > now:
        raise SignInRefused(_locked_message(account.locked_until), locked=True)
    valid, updated = _hasher().verify_and_update(password, account.password_hash)
    if not valid:
        account.failed_sign_ins += 1
        if account.failed_sign_ins >= settings.sign_in_failures:
            account.locked_until = now + dt.timedelta(minutes=settings.lockout_minutes)
            account.failed_sign_ins = 0
            audit(session, action="account_locked", topic_id=None, login=login)
            raise SignInRefused(_locked_message(account.locked_until), locked=True)
        raise SignInRefused("登录名或密码不正确")
    if updated:
        account.password_hash = updated
    account.failed_sign_ins = 0
    account.locked_until = None
    return get(session, Person, account.person_id)


def _locked_message(until: dt.datetime) -> str:
    from models.deadlines import format_local

    return f"连续输错密码次数过多，账号已锁定至 {format_local(until)}，请稍后再试或联系管理员"


class SignInRefused(NotSignedIn):
    """A refused sign-in: 401 to the client, whatever the reason."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


def tokens_valid_from(session: Session, person_id: int) -> dt.datetime | None:
    account = session.get(Account, person_id)
    return account.tokens_valid_from if account else None


def sign_out_everywhere(session: Session, person: Person) -> None:
    account = session.get(Account, person.id)
    if account is not None:
        account.tokens_valid_from = utcnow()


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, person_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for a machine client acting as this person; the key itself is shown once."""
    get(session, Person, person_id)
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("请给密钥起一个 1–100 字的名字（用途）", field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(person_id=person_id, name=name, prefix=key[:10], key_hash=_digest(key))
    session.add(row)
    session.flush()
    audit(session, action="api_key_created", topic_id=None, key_id=row.id, name=name)
    return row, key


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"密钥 {key_id} 不存在")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session, action="api_key_revoked", topic_id=None, key_id=key_id)
    return row


def person_for_key(session: Session, key: str) -> Person | None:
    """The person an API key acts as, or None for an unknown or revoked key."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == _digest(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return session.get(Person, row.person_id)
