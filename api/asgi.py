"""ASGI module for multi-worker uvicorn: ``uvicorn api.asgi:app`` (settings from the environment).

Run it with ``--no-proxy-headers`` (or through `sampler serve`, which trusts only
SAMPLER_TRUSTED_PROXIES): uvicorn otherwise believes X-Forwarded-For from 127.0.0.1.
"""

from __future__ import annotations

from api.main import create_app
from api.privacy import private_umask
from api.settings import Settings

__all__ = ["app"]

private_umask()
app = create_app(Settings())
