"""Fixtures for the service tests: every database test runs on SQLite and, when
SAMPLER_TEST_POSTGRES_URL is set, on PostgreSQL in a fresh schema dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from api.db import make_engine, run_migrations
from api.main import create_app
from api.settings import Settings
from api.storage import store_plan
from tests.api.plandir import CODE_SECRET, plan_frames, plan_summary, write_plan_dir

PLANNER_KEY = "test-planner-key-0123456789abcdefghij"


@pytest.fixture(autouse=True)
def _code_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resident codes keyed by a known test secret (never the machine's key file)."""
    monkeypatch.setenv("SAMPLER_CODE_SECRET", CODE_SECRET)
PG_URL = os.environ.get("SAMPLER_TEST_POSTGRES_URL", "")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set SAMPLER_TEST_POSTGRES_URL to run the PostgreSQL suite"))]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sampler.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on the test database."""
    eng = make_engine(database_url)
    run_migrations(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Service settings for the test database, with a known planner key."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", bootstrap_planner_key=PLANNER_KEY,
                    lookup_per_minute=1000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A TestClient on a fresh app (lifespan run)."""
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def plan_id(client: TestClient) -> int:
    """The small hand-made plan stored and published."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    pid = store_plan(engine, plan_summary(), plan_frames())
    r = client.post(f"/api/v1/plans/{pid}/publish", headers=auth())
    assert r.status_code == 200
    return pid


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    """The small plan as a plan directory on disk."""
    return write_plan_dir(tmp_path / "plan")


def auth(key: str = PLANNER_KEY) -> dict[str, str]:
    """Headers carrying an API key."""
    return {"X-API-Key": key}


@pytest.fixture
def make_key(client: TestClient) -> Callable[..., str]:
    """Create a key through the API and return its token."""

    def make(role: str, sites: list[str] | None = None, grids: list[str] | None = None) -> str:
        body: dict[str, Any] = {"role": role, "name": f"test {role}", "sites": sites or [], "grids": grids or []}
        r = client.post("/api/v1/keys", json=body, headers=auth())
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    return make
