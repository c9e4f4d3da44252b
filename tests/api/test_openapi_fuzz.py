"""Schemathesis against the app's OpenAPI schema: no generated request gets a 5xx answer."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from api.main import create_app
from api.settings import Settings
from api.storage import store_plan
from tests.api.conftest import PLANNER_KEY
from tests.api.plandir import plan_frames, plan_summary

_DIR = Path(tempfile.mkdtemp(prefix="sampler-fuzz-"))
atexit.register(shutil.rmtree, _DIR, True)
APP = create_app(Settings(database_url=f"sqlite:///{_DIR / 'fuzz.db'}", data_dir=_DIR / "data",
                          bootstrap_planner_key=PLANNER_KEY, lookup_per_minute=0))
store_plan(APP.state.engine, plan_summary(), plan_frames())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: schemathesis.Case) -> None:
    """Any generated request, with the planner key, is answered without a server error."""
    response = case.call(headers={"X-API-Key": PLANNER_KEY})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
