"""Service settings: one pydantic-settings object, read from SAMPLER_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the service is configured with.

    Attributes
    ----------
    database_url
        SQLAlchemy URL: SQLite (embedded default, a file under ``data/``) or PostgreSQL
        (``postgresql+psycopg://user@host:5432/db``).
    data_dir
        Working directory for job scratch files.
    bootstrap_planner_key
        If set and no planner key exists yet, a planner key with this exact value is created at
        startup (so a fresh deployment can be driven without the CLI).
    job_workers
        Worker processes for planning and simulation jobs.
    lookup_per_minute
        Resident lookups allowed per client IP per minute (0 disables the limit).
    max_upload_mb
        Largest accepted upload file.
    """

    model_config = SettingsConfigDict(env_prefix="SAMPLER_", extra="ignore")

    database_url: str = "sqlite:///data/sampler.db"
    data_dir: Path = Path("data")
    bootstrap_planner_key: str | None = None
    job_workers: int = Field(default=1, ge=1, le=64)
    lookup_per_minute: int = Field(default=20, ge=0)
    max_upload_mb: float = Field(default=200.0, gt=0)
    run_migrations: bool = True
