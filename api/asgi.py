"""ASGI module for multi-worker uvicorn: ``uvicorn api.asgi:app`` (settings from the environment)."""

from __future__ import annotations

from api.main import create_app
from api.settings import Settings

__all__ = ["app"]

app = create_app(Settings())
