"""Job functions for the worker tests; importable by spawned worker processes."""

from __future__ import annotations

import os

__all__ = ["crash", "explode"]


def crash(_url: str, _job_id: int, _data_dir: str) -> None:
    """Die the way an out-of-memory kill does: no exception, no cleanup."""
    os._exit(9)


def explode(_url: str, _job_id: int, _data_dir: str) -> None:
    """Raise an ordinary exception."""
    raise ValueError("boom")
