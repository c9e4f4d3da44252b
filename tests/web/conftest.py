"""A real `sampler serve` on a free loopback port (SQLite in tmp, a stored plan whose window is
now) and Debian's Chromium driven by Playwright, for the web console's end-to-end tests."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from api.db import make_engine, run_migrations
from api.storage import store_plan
from sampler.day.codes import resident_codes
from tests.api.conftest import CODE_SECRET, PLANNER_KEY
from tests.api.plandir import AREA, plan_frames, plan_summary

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
CST = dt.timezone(dt.timedelta(hours=8))
ORIGIN = pd.Timestamp("2022-11-23 06:00")

pytest.importorskip("playwright.sync_api", reason="install the dev extra (playwright) to run the browser tests")
if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is missing at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shifted(delta: pd.Timedelta) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The small plan of tests/api/plandir.py moved in time by ``delta`` (so its window is now)."""
    frames = plan_frames()
    for frame in frames.values():
        for col in ("slot_start", "slot_end"):
            if col in frame.columns and len(frame):
                frame[col] = (pd.to_datetime(frame[col]) + delta).dt.strftime("%Y-%m-%d %H:%M")
    summary = plan_summary()
    summary["window"] = {**summary["window"], "start": (ORIGIN + delta).strftime("%Y-%m-%d %H:%M")}
    return summary, frames


@dataclass
class Live:
    url: str
    plan_id: int
    codes: dict[str, str]
    banner: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`sampler serve` with the small plan stored and published; its window started 4 hours ago."""
    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'sampler.db'}"
    engine = make_engine(url)
    run_migrations(engine)
    now = pd.Timestamp(dt.datetime.now(CST).replace(tzinfo=None)).floor("30min")
    summary, frames = _shifted(now - pd.Timedelta(hours=4) - ORIGIN)
    plan_id = store_plan(engine, summary, frames)
    engine.dispose()
    ids = frames["contacts"]["household_id"].tolist()
    codes = dict(zip(ids, resident_codes(AREA, ids, CODE_SECRET.encode()), strict=True))
    port = _free_port()
    env = {**os.environ, "SAMPLER_DATABASE_URL": url, "SAMPLER_DATA_DIR": str(tmp / "data"),
           "SAMPLER_BOOTSTRAP_PLANNER_KEY": PLANNER_KEY, "SAMPLER_CODE_SECRET": CODE_SECRET,
           "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("sampler serve did not start") from None
                time.sleep(0.2)
        httpx.post(f"{base}/api/v1/plans/{plan_id}/publish", headers={"X-API-Key": PLANNER_KEY}).raise_for_status()
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        yield Live(base, plan_id, codes, banner)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized page in Chinese, in China Standard Time."""
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which the pages'
    # CSP (script-src 'self') forbids; test_pages_run_under_their_csp checks the pages themselves.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN",
                              timezone_id="Asia/Shanghai", accept_downloads=True, bypass_csp=True)
    yield ctx
    ctx.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai",
                              accept_downloads=True, bypass_csp=True)
    yield ctx
    ctx.close()
