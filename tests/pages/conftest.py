"""A real browser against the real app: one server per module (uvicorn in a subprocess, on a
SQLite case file built with the factories) and one Chromium per module (Debian's package at
/usr/bin/chromium, driven by Playwright; nothing downloads a browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "长城-春眠不觉晓-2026"


def require_chromium() -> None:
    """Skip the browser tests where Chromium is missing, except in CI, where they must run."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (/usr/bin/chromium: apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fontconfig(tmp: Path) -> Path:
    """The system's fonts plus Noto Sans CJK from the project's own dependency, so pages and
    screenshots show Chinese on a machine without CJK fonts."""
    import noto_cjk_sans_otc

    conf = tmp / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{Path(str(noto_cjk_sans_otc.FONT_PATH)).parent}</dir>"
        f"<cachedir>{tmp / 'fontcache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    return conf


def launch_chromium(tmp: Path) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, with the CJK fonts (for a module's fixture)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig(tmp))}
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], env=env, timeout=30_000
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from launch_chromium(tmp_path_factory.mktemp("chromium"))


class Server:
    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.database_url = database_url


def start_server(database_url: str, log: Path) -> Iterator[Server]:
    """The app (API and pages) in uvicorn, as `xieshang up` serves it, on a free port."""
    port = _free_port()
    env = {**os.environ, "XS_DATABASE_URL": database_url}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield Server(url, database_url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in_client(client: Any, session: Any, person: Any, login: str) -> str:
    """Give the person a password and sign the test client in with the form, as a browser
    does (no bearer header afterwards: send `headers=ANONYMOUS`); returns the CSRF token that
    the session's form posts carry."""
    from models.accounts import set_password
    from tests.conftest import ANONYMOUS

    set_password(session, person.id, login, PASSWORD)
    session.commit()
    r = client.post(
        "/login",
        data={"login": login, "password": PASSWORD, "next": "/work"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/work", r.text
    return str(client.cookies["xs_csrf"])


def sign_in(page: Any, login: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form the way a person does."""
    page.get_by_label("登录名").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


@pytest.fixture(scope="module")
def server(case: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on the module's case file (each module's `case` fixture builds it)."""
    log = Path(tmp_path_factory.mktemp("server")) / "uvicorn.log"
    yield from start_server(case["url"], log)


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh desktop-sized, zh-CN browser tab on the module's server: no cookies carried."""
    context = browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_page(browser: Any, server: Server) -> Iterator[Any]:
    """A tab the size of a common phone (390×844, touch, 2× pixels) on the module's server."""
    context = browser.new_context(
        base_url=server.url,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
