"""`sampler keys create` and `sampler serve` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.db import make_engine, session_factory
from api.security import verify_key


def test_keys_create_prints_a_working_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The printed key verifies against the database with its role and sites."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SAMPLER_DATABASE_URL", url)
    r = CliRunner().invoke(app, ["keys", "create", "--role", "site", "--site", "S1", "--site", "S2"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().split()[-1]
    with session_factory(make_engine(url))() as session:
        key = verify_key(session, token)
        assert key is not None and key.role == "site" and key.sites == "S1;S2"
        assert verify_key(session, token[:-1] + ("x" if token[-1] != "x" else "y")) is None


def test_keys_create_refuses_bad_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown role, or a site key without sites, exits with status 2."""
    monkeypatch.setenv("SAMPLER_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert CliRunner().invoke(app, ["keys", "create", "--role", "admin"]).exit_code == 2
    assert CliRunner().invoke(app, ["keys", "create", "--role", "site"]).exit_code == 2


def test_serve_is_registered() -> None:
    """`sampler serve --help` documents the host and port options."""
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--port" in r.output
