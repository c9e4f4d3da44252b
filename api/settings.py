"""Service settings: one pydantic-settings object, read from SAMPLER_* environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MIN_BOOTSTRAP_KEY", "Settings"]

MIN_BOOTSTRAP_KEY = 32


class Settings(BaseSettings):
    """Everything the service is configured with.

    Attributes
    ----------
    database_url
        SQLAlchemy URL: SQLite (embedded default, a file under ``data/``) or PostgreSQL
        (``postgresql+psycopg://user@host:5432/db``).
    data_dir
        Working directory for job scratch files and the embedded rate-limit store (kept 0700).
    bootstrap_planner_key
        If set, a planner key with this exact value (at least 32 characters) is the bootstrap key:
        created at startup, and the previous bootstrap key is revoked when the value changes.
    job_workers
        Worker processes for planning and simulation jobs.
    lookup_per_minute
        Resident lookups allowed per client address per minute (0 disables the limit).
    lookup_household_failures, lookup_lock_minutes
        Wrong answers for one household before its lookup is locked, and for how long: a locked
        household answers every lookup, right digits included, like any other miss.
    lookup_client_failures_per_hour
        Wrong answers one client address may give per hour before it gets 429 (0: no limit).
    lookup_index_households
        Plans up to this many households are answered from each worker process's memory
        (`api.lookupindex`, 69 MB a million households); larger ones, or 0, from the database.
    key_failures_per_minute
        Wrong API keys one client address may send per minute before it gets 429 (0: no limit).
    trusted_proxies
        Comma-separated addresses or networks of reverse proxies whose ``X-Forwarded-For`` is
        believed (default none: the header is ignored and the peer address is the client).
    redis_url
        Redis for the rate-limit counters (``redis://127.0.0.1:6379/0``); unset: an SQLite file in
        ``data_dir`` shared by the worker processes of this machine.
    audit_retention_days
        Audit entries older than this are deleted (at start and daily).
    max_upload_mb
        Largest accepted upload file.
    max_request_mb, max_body_kb
        Largest request body of a scenario upload (all files together), and of any other request.
    max_unpacked_mb, max_unpack_ratio
        An XLSX whose zip declares more unpacked bytes, or a larger unpack ratio (above 10 MB), is
        refused before it is read (zip bombs).
    max_rows, max_columns, max_cell_chars
        Bounds on each uploaded registry file.
    upload_parse_seconds, upload_parse_memory_mb
        Time and address-space limits of the child process that reads an upload (killed and
        answered 413 beyond them).
    upload_parsers
        Uploads read at the same time (others wait), each in its own child process.
    """

    model_config = SettingsConfigDict(env_prefix="SAMPLER_", extra="ignore")

    database_url: str = "sqlite:///data/sampler.db"
    data_dir: Path = Path("data")
    bootstrap_planner_key: str | None = None
    job_workers: int = Field(default=1, ge=1, le=64)
    lookup_per_minute: int = Field(default=20, ge=0)
    lookup_household_failures: int = Field(default=5, ge=1)
    lookup_lock_minutes: float = Field(default=15.0, gt=0)
    lookup_client_failures_per_hour: int = Field(default=60, ge=0)
    lookup_index_households: int = Field(default=5_000_000, ge=0)
    key_failures_per_minute: int = Field(default=10, ge=0)
    trusted_proxies: str = ""
    public_url: str = Field(default="", description="the service's address as residents reach it, e.g. "
                            "https://hs.example.gov.cn: building notices then carry a QR code to its /r page")
    redis_url: str | None = None
    redis_prefix: str = "sampler:"
    audit_retention_days: int = Field(default=180, ge=1)
    max_upload_mb: float = Field(default=200.0, gt=0)
    max_request_mb: float = Field(default=610.0, gt=0)
    max_body_kb: int = Field(default=1024, ge=1)
    max_unpacked_mb: float = Field(default=1024.0, gt=0)
    max_unpack_ratio: float = Field(default=100.0, gt=1)
    max_rows: int = Field(default=2_000_000, ge=1)
    max_columns: int = Field(default=200, ge=10)
    max_cell_chars: int = Field(default=1000, ge=20)
    upload_parse_seconds: float = Field(default=300.0, gt=0)
    upload_parse_memory_mb: int = Field(default=3072, ge=256)
    upload_parsers: int = Field(default=1, ge=1, le=16)
    run_migrations: bool = True

    @field_validator("bootstrap_planner_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and value != "" and len(value) < MIN_BOOTSTRAP_KEY:
            raise ValueError(f"SAMPLER_BOOTSTRAP_PLANNER_KEY has {len(value)} characters; use at least "
                             f"{MIN_BOOTSTRAP_KEY} random ones (for example `python -c \"import secrets; "
                             f"print(secrets.token_urlsafe(32))\"`)")
        return value or None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"SAMPLER_TRUSTED_PROXIES: {part.strip()!r} is not an address or "
                                     "network; list proxies like 10.0.0.5,10.1.0.0/16") from None
        return value

    def proxy_list(self) -> list[str]:
        """The trusted proxy addresses/networks, as uvicorn's ``forwarded_allow_ips`` takes them."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]
