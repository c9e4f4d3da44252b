"""Files of the service private to its user: data directory 0700, SQLite files 0600, umask 077."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["private_database", "private_dir", "private_umask"]


def private_umask() -> int:
    """Make every file this process creates from now on private (umask 077); return the old mask."""
    return os.umask(0o077)


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700 and make it 0700 if it exists and is ours."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, 0o700)
    if path.stat().st_uid == os.getuid():
        os.chmod(path, 0o700)


def private_database(url: str) -> None:
    """For an SQLite URL: its directory as `private_dir`, the file (and WAL files) 0600."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    db = Path(parsed.database)
    if not db.parent.exists():
        private_dir(db.parent)
    if not db.exists():
        os.close(os.open(db, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        if path.exists() and path.stat().st_uid == os.getuid():
            os.chmod(path, 0o600)
