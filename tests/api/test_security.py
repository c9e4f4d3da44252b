"""Issue 10 findings 2, 3, 11, 13 (files), 14: lookup lockout, masking, key throttling, bootstrap
keys, private files, security headers, scrubbed 422s, documented errors and RFC 3339 times."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import build_app
from api.main import create_app
from api.models import ApiKey
from api.settings import Settings
from api.storage import store_plan
from tests.api.conftest import PLANNER_KEY, auth
from tests.api.plandir import code_of, plan_frames, plan_summary
from tests.api.test_limits import REDIS, REDIS_URL

MISS = {"code": code_of("H001"), "phone_last4": "0000"}
RIGHT = {"code": code_of("H001"), "phone_last4": "5678"}


def _published(app: object) -> int:
    engine = app.state.engine  # type: ignore[attr-defined]
    pid = store_plan(engine, plan_summary(), plan_frames())
    with TestClient(app) as c:  # type: ignore[arg-type]
        assert c.post(f"/api/v1/plans/{pid}/publish", headers=auth()).status_code == 200
    return pid


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=REDIS)])
def limited(request: pytest.FixtureRequest, settings: Settings) -> Iterator[object]:
    """An app with the default lookup limits on either counter backend, a plan published."""
    extra = {"redis_url": REDIS_URL, "redis_prefix": f"test-{uuid.uuid4().hex[:10]}:"} if request.param == "redis" else {}
    app = create_app(settings.model_copy(update={"lookup_per_minute": 1000, **extra}))
    _published(app)
    yield app
    store = app.state.store
    if request.param == "redis":
        for key in store.client.scan_iter(f"{extra['redis_prefix']}*"):
            store.client.delete(key)


def _client(app: object, host: str) -> TestClient:
    return TestClient(app, client=(host, 40000))  # type: ignore[arg-type]


def test_household_locks_after_five_wrong_tries_from_any_clients(limited: object) -> None:
    """Five wrong tries from five addresses lock H001: the right digits then get the very same miss."""
    with _client(limited, "10.0.0.99") as c:
        assert c.post("/api/v1/lookup", json=RIGHT).status_code == 200
        miss = c.post("/api/v1/lookup", json=MISS)
    for i in range(4):  # with the miss above: five wrong tries
        with _client(limited, f"10.0.1.{i}") as c:
            assert c.post("/api/v1/lookup", json=MISS).status_code == 404
    with _client(limited, "10.0.2.1") as c:
        locked = c.post("/api/v1/lookup", json=RIGHT)
        other = c.post("/api/v1/lookup", json={"code": code_of("H002"), "phone_last4": "0002"})
    assert locked.status_code == 404 and locked.json() == miss.json()
    assert dict(locked.headers).keys() == dict(miss.headers).keys()
    assert other.status_code == 200  # the lock is per household


def test_client_wrong_answers_per_hour(settings: Settings) -> None:
    """One address guessing across households gets 429 after its hourly budget of wrong answers."""
    app = create_app(settings.model_copy(update={"lookup_per_minute": 1000, "lookup_client_failures_per_hour": 8}))
    _published(app)
    with _client(app, "10.3.0.1") as c:
        codes = [c.post("/api/v1/lookup", json={"code": code_of(f"H{i:03d}"), "phone_last4": "9999"}).status_code
                 for i in range(12)]
        assert c.post("/api/v1/lookup", json=RIGHT).status_code == 429
    assert codes == [404] * 8 + [429] * 4
    with _client(app, "10.3.0.2") as c:
        assert c.post("/api/v1/lookup", json=RIGHT).status_code == 200


def test_forwarded_for_is_not_believed_in_process(settings: Settings) -> None:
    """A fresh X-Forwarded-For per request does not make a fresh client: 429 after the limit."""
    app = create_app(settings.model_copy(update={"lookup_per_minute": 5}))
    _published(app)
    with _client(app, "127.0.0.1") as c:
        codes = [c.post("/api/v1/lookup", json=MISS | {"code": code_of(f"H9{i:02d}")},
                        headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(10)]
    assert codes == [404] * 5 + [429] * 5


def test_wrong_keys_are_throttled_per_client(settings: Settings) -> None:
    """After N wrong keys a minute the address gets 429 (even with a right key); others do not."""
    app = create_app(settings.model_copy(update={"key_failures_per_minute": 5}))
    with _client(app, "10.4.0.1") as c:
        codes = [c.get("/api/v1/plans", headers=auth(f"smp_1_{'x' * 20}{i}")).status_code for i in range(8)]
        blocked = c.get("/api/v1/plans", headers=auth())
    assert codes == [401] * 5 + [429] * 3
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    with _client(app, "10.4.0.2") as c:
        assert c.get("/api/v1/plans", headers=auth()).status_code == 200
        assert c.get("/api/v1/plans").status_code == 401  # no key at all is not a guess


def test_short_bootstrap_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bootstrap key under 32 characters stops the service from starting, with a clear message."""
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(bootstrap_planner_key="x")
    monkeypatch.setenv("SAMPLER_BOOTSTRAP_PLANNER_KEY", "short-key")
    monkeypatch.setenv("SAMPLER_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    result = CliRunner().invoke(build_app(), ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "SAMPLER_BOOTSTRAP_PLANNER_KEY" in result.output and "at least 32" in result.output
    assert not (tmp_path / "s.db").exists()


def test_changed_bootstrap_key_replaces_the_old_one(settings: Settings) -> None:
    """Restarting with another bootstrap key revokes the previous one (and audits it)."""
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/v1/plans", headers=auth()).status_code == 200
    new = "another-bootstrap-key-0123456789-abcdef"
    with TestClient(create_app(settings.model_copy(update={"bootstrap_planner_key": new}))) as c:
        assert c.get("/api/v1/plans", headers=auth()).status_code == 401
        assert c.get("/api/v1/plans", headers=auth(new)).status_code == 200
        actions = [e["action"] for e in c.get("/api/v1/audit", headers=auth(new)).json()["data"]]
        engine = c.app.state.engine  # type: ignore[attr-defined]
    assert actions.count("key.bootstrap") == 2 and actions.count("key.bootstrap_revoke") == 1
    with engine.connect() as conn:
        live = conn.execute(select(ApiKey.id).where(ApiKey.name == "bootstrap", ApiKey.revoked.is_(False))).all()
    assert len(live) == 1
    with TestClient(create_app(settings.model_copy(update={"bootstrap_planner_key": new}))) as c:
        assert c.get("/api/v1/plans", headers=auth(new)).status_code == 200  # same value: kept


def test_bootstrap_name_is_reserved(client: TestClient) -> None:
    """Nobody can create a key that would pass for (and be revoked as) the bootstrap key."""
    r = client.post("/api/v1/keys", json={"role": "planner", "name": "bootstrap"}, headers=auth())
    assert r.status_code == 422


@pytest.mark.parametrize("role", ["viewer", "site", "planner"])
def test_staff_never_see_the_lookup_digits(client: TestClient, plan_id: int, make_key: Callable[..., str],
                                           role: str) -> None:
    """No role's household list shows the last 4 digits; only planners see home-visit reasons."""
    token = PLANNER_KEY if role == "planner" else make_key(role, ["S1", "S2"] if role == "site" else None)
    paths = ["assignments"] if role == "site" else ["assignments", "home-visits", "unplaced"]
    for path in paths:
        body = client.get(f"/api/v1/plans/{plan_id}/{path}?limit=1000", headers=auth(token)).json()
        for row in body["data"]:
            assert row["phone"] in ("", "****") or set(row["phone"][3:]) == {"*"}, row
        for last4 in ("5678", "0002", "0004", "0006", "0007", "0008", "0009"):
            assert last4 not in str(body)
    if role != "site":
        visits = client.get(f"/api/v1/plans/{plan_id}/home-visits", headers=auth(token)).json()["data"]
        assert visits and all(v["reason"] == ("sealed" if role == "planner" else "") for v in visits)


def test_security_headers(client: TestClient, plan_id: int) -> None:
    """no-store on lookups, exports and lists; CSP, nosniff, framing and referrer rules on HTML."""
    look = client.post("/api/v1/lookup", json=RIGHT)
    sms = client.get(f"/api/v1/plans/{plan_id}/exports/sms.csv", headers=auth())
    html = client.get(f"/api/v1/plans/{plan_id}/exports/notices/B1.html", headers=auth())
    miss = client.post("/api/v1/lookup", json=MISS)
    for r in (look, sms, html, miss):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    csp = html.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert html.headers["x-frame-options"] == "DENY" and html.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" not in client.get("/docs").headers  # Swagger UI needs its scripts


def test_error_details_carry_no_server_paths(settings: Settings) -> None:
    """A 422 whose text names a scratch file under the data directory reaches the client without it."""
    app = create_app(settings)
    scratch = settings.data_dir.resolve() / "upload-abc123"

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise HTTPException(422, [{"file": f"{scratch}/households.csv", "fix": f"see {scratch}"}])

    with TestClient(app) as c:
        body = c.get("/api/v1/boom").text
    assert str(settings.data_dir.resolve()) not in body and "households.csv" in body


def test_data_dir_and_database_are_private(tmp_path: Path) -> None:
    """The data directory is 0700, the SQLite file and the counter store 0600."""
    data, db = tmp_path / "svc" / "data", tmp_path / "svc" / "data" / "sampler.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}", data_dir=data))
    with TestClient(app) as c:
        c.post("/api/v1/lookup", json=MISS)
    assert data.stat().st_mode & 0o777 == 0o700
    for path in (db, data / "limits.sqlite3"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    for wal in data.glob("*-wal"):
        assert wal.stat().st_mode & 0o077 == 0, wal


def test_openapi_documents_errors_and_utc_times(client: TestClient, plan_id: int) -> None:
    """Every keyed operation documents 401/403/404/422/429 with one schema; times carry a zone."""
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            keyless = path.endswith("/lookup") or path.startswith("/api/v1/public/")
            wanted = {"404", "422", "429"} if keyless else {"400", "401", "403", "404", "422", "429"}
            assert wanted <= codes or not path.startswith("/api/"), (method, path, codes)
    created = client.get("/api/v1/plans", headers=auth()).json()["data"][0]["created_at"]
    assert created.endswith(("Z", "+00:00"))


def test_keys_cannot_lock_planners_out(client: TestClient, make_key: Callable[..., str]) -> None:
    """A key cannot revoke itself, nor the last live planner key; with a second planner it can go."""
    own = client.get("/api/v1/keys", headers=auth()).json()["data"][0]["id"]
    assert client.delete(f"/api/v1/keys/{own}", headers=auth()).status_code == 409
    other = make_key("planner")
    assert client.delete(f"/api/v1/keys/{own}", headers=auth(other)).status_code == 200
    assert client.get("/api/v1/plans", headers=auth()).status_code == 401
    assert client.post("/api/v1/keys", json={"role": "site", "sites": []}, headers=auth(other)).status_code == 422
    assert client.post("/api/v1/keys", json={"role": "viewer", "sites": ["a;b"]}, headers=auth(other)).status_code == 422


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    """A wrong method on /plans/{id} names GET and DELETE (two routes), not only the first."""
    r = client.put("/api/v1/plans/1", headers=auth())
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) >= {"GET", "DELETE"}


@pytest.mark.parametrize(("proxies", "headers", "allowed"), [
    ("", False, ["127.0.0.1"]),
    ("10.0.0.5, 10.1.0.0/16", True, ["10.0.0.5", "10.1.0.0/16"]),
])
def test_serve_trusts_forwarded_headers_only_from_configured_proxies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxies: str, headers: bool, allowed: list[str]) -> None:
    """`sampler serve` tells uvicorn to read X-Forwarded-For only when SAMPLER_TRUSTED_PROXIES is set."""
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(os, "umask", lambda mask: 0o022)  # keep the test process's umask
    monkeypatch.setenv("SAMPLER_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("SAMPLER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SAMPLER_TRUSTED_PROXIES", proxies)
    result = CliRunner().invoke(build_app(), ["serve", "--port", "1"])
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is headers and seen["forwarded_allow_ips"] == allowed


def test_bad_trusted_proxy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy entry that is not an address or network stops the service with a clear message."""
    monkeypatch.setenv("SAMPLER_TRUSTED_PROXIES", "proxy.example")
    result = CliRunner().invoke(build_app(), ["serve", "--port", "1"])
    assert result.exit_code == 2 and "SAMPLER_TRUSTED_PROXIES" in result.output


_LONE = '"\\udabe"'  # a lone surrogate as JSON carries it (valid JSON, not encodable as UTF-8)


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/keys", '{"role": "viewer", "name": "a\\u0000b"}'),
    ("/api/v1/keys", '{"role": "viewer", "name": ' + _LONE + '}'),
    ("/api/v1/keys", '{"role": "grid", "name": "5号楼", "grids": ["G\\u0000<"]}'),
    ("/api/v1/keys", '{"role": "site", "sites": ["S1\\u000b"]}'),
    ("/api/v1/lookup", '{"code": "AB\\u0000CD", "phone_last4": "1234"}'),
    ("/api/v1/lookup", '{"code": ' + _LONE + ', "phone_last4": "1234"}'),
    ("/api/v1/plans/{pid}/checkins",
     '{"checkins": [{"id": "c\\u0000", "household_id": "H001", "site_id": "S1", "at": "2022-11-23T08:10:00+08:00"}]}'),
    ("/api/v1/plans/{pid}/followups", '{"followups": [{"household_id": "H001", "outcome": "away", "note": "x\\u0000"}]}'),
    ("/api/v1/plans/{pid}/replan", '{"close": ["S1\\u0000"]}'),
])
def test_control_characters_and_lone_surrogates_are_422_and_nothing_is_stored(
        client: TestClient, plan_id: int, path: str, body: str) -> None:
    """A NUL (PostgreSQL cannot store one) or a lone surrogate in any text field is a 422 naming
    the field, on both databases, and the request stores nothing (found by Schemathesis: 500)."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = _rows(engine)
    r = client.post(path.format(pid=plan_id), content=body.encode(),
                    headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"
    assert _rows(engine) == before


def _rows(engine: object) -> dict[str, int]:
    """How many keys, check-ins, follow-ups and jobs are stored."""
    from sqlalchemy import text
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("api_keys", "checkins", "followups", "jobs")}


@pytest.mark.parametrize("path", [
    "/api/v1/plans/{pid}/site-load?site_id=S%001", "/api/v1/plans/{pid}/buildings?building_id=B%00",
    "/api/v1/audit?action=x%00", "/api/v1/plans/{pid}/missed?grid=G%00", "/api/v1/plans/{pid}/exports/notices/B%001.html",
])
def test_nul_in_query_or_path_is_422(client: TestClient, plan_id: int, path: str) -> None:
    """A NUL in a query or path parameter (PostgreSQL cannot compare with one: it was a 500)."""
    r = client.get(path.format(pid=plan_id), headers=auth())
    assert r.status_code == 422, r.text


def test_undecodable_body_and_wide_digits_are_422(client: TestClient, plan_id: int) -> None:
    """Bytes that are not UTF-8 echo as escapes in the 422 (FastAPI's own handler gave a 500);
    full-width digits are not the 4 digits the lookup compares."""
    r = client.post("/api/v1/lookup", content=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert r.status_code == 422, r.text
    r = client.post("/api/v1/lookup", json={"code": "ABCDEFGH", "phone_last4": "５６７８"})
    assert r.status_code == 422, r.text
