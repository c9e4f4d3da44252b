"""Read a plan directory written by `sampler plan` (see docs/formats.md) back into tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sampler.errors import InputError, InputIssue

__all__ = ["PlanFiles", "read_plan"]

_TEXT = {"household_id": str, "building_id": str, "site_id": str, "unit": str, "room": str,
         "phone": str, "contact": str, "name": str, "grid": str, "compound": str, "serves": str,
         "reason": str, "mode": str, "slot_start": str, "slot_end": str, "risk_zone": str,
         "open": str, "close": str}


@dataclass(frozen=True, eq=False)
class PlanFiles:
    """The tables of a plan directory; text columns are str with '' for blanks."""

    directory: Path
    summary: dict[str, Any]
    assignments: pd.DataFrame
    site_load: pd.DataFrame
    buildings: pd.DataFrame
    home_visits: pd.DataFrame
    unplaced: pd.DataFrame
    sites: pd.DataFrame
    contacts: pd.DataFrame


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=_TEXT, keep_default_na=False, encoding="utf-8")


def read_plan(directory: str | Path) -> PlanFiles:
    """Read every file of a plan directory, or raise InputError naming what is missing."""
    directory = Path(directory)
    names = ["assignments", "site_load", "buildings", "home_visits", "unplaced", "sites", "contacts"]
    missing = [n for n in [*names, "plan"] if not (directory / f"{n}.{'json' if n == 'plan' else 'csv'}").is_file()]
    if missing:
        raise InputError(
            [InputIssue(str(directory / f"{n}.{'json' if n == 'plan' else 'csv'}"), None, "(file)", n,
                        "point at a directory written by `sampler plan`") for n in missing]
        )
    summary = json.loads((directory / "plan.json").read_text(encoding="utf-8"))
    frames = {n: _read(directory / f"{n}.csv") for n in names}
    return PlanFiles(directory=directory, summary=summary, **frames)
