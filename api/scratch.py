"""Scratch directories of the service: private, marked as ours, removed after use and after a crash.

Jobs and uploads write residents' registry files (names, full phones) to a scratch directory under
``data_dir`` while they work. Each such directory is created 0700 by `scratch_dir`, carries a
marker file naming the host and process that made it, and is removed when the work ends. A
process killed with ``kill -9`` cannot clean up, so `sweep_scratch` (run at service start) removes
the marked directories whose process is gone. Anything without our marker is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.privacy import private_dir

__all__ = ["MARKER", "current_scratch", "pid_alive", "scratch_dir", "sweep_scratch"]

MARKER = ".sampler-scratch"
_current: set[Path] = set()  # scratch directories this process is using (the worker watchdog removes them)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def scratch_dir(data_dir: Path, prefix: str) -> Iterator[Path]:
    """A fresh 0700 directory under ``data_dir``, marked as this process's, removed afterwards."""
    private_dir(data_dir)
    path = Path(tempfile.mkdtemp(dir=data_dir, prefix=prefix)).resolve()  # mkdtemp makes it 0700
    (path / MARKER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}), encoding="utf-8")
    _current.add(path)
    try:
        yield path
    finally:
        _current.discard(path)
        shutil.rmtree(path, ignore_errors=True)


def current_scratch() -> list[Path]:
    """Scratch directories in use by this process."""
    return sorted(_current)


def _owner(path: Path) -> tuple[str, int] | None:
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
        return str(data["host"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sweep_scratch(data_dir: Path) -> int:
    """Remove the scratch directories under ``data_dir`` left by dead processes of this host.

    Only real directories directly under ``data_dir`` that carry our marker are considered; those of
    live processes (another service worker, a running job) stay. Returns how many were removed.
    """
    if not data_dir.is_dir():
        return 0
    host, removed = socket.gethostname(), 0
    for child in data_dir.iterdir():
        if child.is_symlink() or not child.is_dir() or not (child / MARKER).is_file():
            continue
        owner = _owner(child)
        if owner is None or owner[0] != host or child.resolve() in _current:
            continue
        if owner[1] != os.getpid() and pid_alive(owner[1]):
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed += 1
    return removed
