"""Schemathesis with every check (`--checks all`) against the live service (`sampler serve` on a
free loopback port), on SQLite and, when SAMPLER_TEST_POSTGRES_URL is set, PostgreSQL: no server
error, no response that breaks the documented schema, status codes, headers or content types.

Examples are bounded (deterministic generation, 15 per operation) so a run takes under a minute.
One operation is told what "valid" means beyond its schema: the uploaded registry files are
arbitrary bytes to JSON Schema, so `POST /scenarios` may answer schema-valid but unreadable files
with 422 (naming the file and the fix) without failing `positive_data_acceptance`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.db import make_engine, run_migrations
from api.storage import store_plan
from tests.api.conftest import PLANNER_KEY
from tests.api.plandir import plan_frames, plan_summary
from tests.api.test_live_server import _free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = """
[[operations]]
include-path = "/api/v1/scenarios"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "413", "422", "429"]
"""


def test_schemathesis_all_checks_against_live_server(database_url: str, tmp_path: Path) -> None:
    """0 failures of any Schemathesis check (server errors, conformance, auth, methods)."""
    engine = make_engine(database_url)
    run_migrations(engine)
    store_plan(engine, plan_summary(), plan_frames())
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "SAMPLER_DATABASE_URL": database_url, "SAMPLER_DATA_DIR": str(tmp_path / "data"),
           "SAMPLER_BOOTSTRAP_PLANNER_KEY": PLANNER_KEY, "SAMPLER_LOOKUP_PER_MINUTE": "0",
           "SAMPLER_LOOKUP_CLIENT_FAILURES_PER_HOUR": "0", "SAMPLER_KEY_FAILURES_PER_MINUTE": "0",
           "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([str(BIN / "sampler"), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "sampler serve did not start"
            time.sleep(0.3)
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        run = subprocess.run(
            [str(BIN / "schemathesis"), "--config-file", str(config), "run", f"{url}/openapi.json",
             "--checks", "all", "-H", f"X-API-Key: {PLANNER_KEY}", "--max-examples", "15",
             "--generation-deterministic", "--generation-with-security-parameters", "false",
             "--continue-on-failure", "--no-color", "--request-timeout", "30"],
            check=False, capture_output=True, text=True, timeout=900, cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1"})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    out = run.stdout + run.stderr
    tested = re.search(r"Tested: (\d+)", out)
    assert tested and int(tested.group(1)) >= 30, out[-3000:]
    assert run.returncode == 0 and "Failures:" not in out, out[-6000:]


def test_schema_loads(client: TestClient) -> None:
    """The schema itself is valid OpenAPI that Schemathesis loads, with every operation."""
    import schemathesis

    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    assert len(list(schema.get_all_operations())) >= 30
