"""A Registry written back as the household-level files the reader takes (docs/formats.md).

    names = write_household_files(registry, directory)   # households.csv, buildings.csv, sites.csv

The service stores a person-level roster (花名册) this way: as the households, buildings and
sites it was read into, never as the roster itself, so identity numbers (身份证号), which the
persons reader drops, cannot reach the database. The files are UTF-8 CSV with the reader's
English headers; coordinates are WGS-84 (the Registry's own), so the scenario reading them back
says ``registry.crs: wgs84``. Reading the files back (`sampler.registry.read.load_registry`)
gives the same households and buildings, in the same order, and the same sites:

* text as it was (a phone that is a landline, blank or several numbers stays as written, so the
  household is on the no-SMS list again with the same warning), except that a line break inside
  a cell becomes a space (the CSV reader takes one line per row);
* numbers exact: coordinates are written as Python's shortest round-trip decimal (Arrow's CSV
  writer rounds doubles to 6 significant digits);
* special needs and preferred periods by their English names, risk zones as precaution /
  controlled / sealed, opening hours as ``HH:MM`` (``24:00`` for midnight), a site's rate as the
  number it was read as (the scenario's ``capacity.people_per_table_hour`` where it was blank).

Households are written column-wise through Arrow (a million rows in about a second).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.model import PERIODS, SPECIAL_NEEDS, Registry, RiskZone, Site

__all__ = ["HOUSEHOLD_FILES", "write_household_files", "write_sites_file"]

HOUSEHOLD_FILES = {"households": "households.csv", "buildings": "buildings.csv", "sites": "sites.csv"}
_ZONE_NAMES = np.array([z.name.lower() for z in RiskZone], dtype=object)


def _text(values: Any) -> np.ndarray:
    """A text column as an object array with line breaks inside cells turned into spaces."""
    arr = np.asarray(values, dtype=object).astype(str)
    series = pd.Series(arr, dtype=object)
    broken = series.str.contains(r"[\r\n]", regex=True).to_numpy(dtype=bool)
    if broken.any():
        series[broken] = series[broken].str.replace(r"\r\n|[\r\n]", " ", regex=True)
    return series.to_numpy(dtype=object)


def _needs_text(needs: np.ndarray) -> np.ndarray:
    """Each needs bit mask as ``;``-separated names (a lookup over the 32 possible masks)."""
    names = np.array([";".join(n for i, n in enumerate(SPECIAL_NEEDS) if m >> i & 1)
                      for m in range(1 << len(SPECIAL_NEEDS))], dtype=object)
    return names[np.asarray(needs, dtype=np.int64)] if len(needs) else np.zeros(0, dtype=object)


def _write(path: Path, columns: dict[str, Any]) -> None:
    """A CSV (UTF-8, ``\\n`` line ends) of string and integer columns; every text value quoted."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({name: (pa.array(values, type=pa.large_string()) if np.asarray(values).dtype == object
                             else pa.array(np.asarray(values, dtype=np.int64))) for name, values in columns.items()})
    sink = io.BytesIO()
    sink.write((",".join(columns) + "\n").encode())
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    path.write_bytes(sink.getvalue())


def _decimal(values: Any) -> np.ndarray:
    """Floats as their shortest round-trip decimal text."""
    return np.array([repr(float(v)) for v in np.asarray(values, dtype=np.float64)], dtype=object)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def write_sites_file(sites: tuple[Site, ...], path: Path) -> None:
    """Sites as a sites file (coordinates as the Sites hold them: WGS-84)."""
    _write(path, {
        "site_id": _text([s.id for s in sites]), "name": _text([s.name for s in sites]),
        "lon": _decimal([s.lon for s in sites]), "lat": _decimal([s.lat for s in sites]),
        "tables": np.array([s.tables for s in sites], dtype=np.int64), "rate": _decimal([s.rate for s in sites]),
        "open": np.array([_clock(s.open_minute) for s in sites], dtype=object),
        "close": np.array([_clock(s.close_minute) for s in sites], dtype=object),
        "serves": _text([";".join(s.serves) for s in sites]), "queue_m": _decimal([s.queue_m for s in sites]),
    })


def write_household_files(registry: Registry, directory: Path, sites: bool = True) -> dict[str, str]:
    """Write ``registry`` as households.csv, buildings.csv and (``sites``) sites.csv in
    ``directory`` (module docstring); the file name by role."""
    directory = Path(directory)
    h, b = registry.households, registry.buildings
    building = np.asarray(h.building, dtype=np.int64)
    b_ids = _text(b.id)
    _write(directory / HOUSEHOLD_FILES["households"], {
        "household_id": _text(h.id), "building_id": b_ids[building] if len(building) else np.zeros(0, dtype=object),
        "unit": _text(h.unit), "room": _text(h.room), "size": np.asarray(h.size, dtype=np.int64),
        "elderly": np.asarray(h.elderly, dtype=np.int64), "children": np.asarray(h.children, dtype=np.int64),
        "contact": _text(h.contact), "phone": _text(h.phone), "needs": _needs_text(h.needs),
        "preferred": np.array(PERIODS, dtype=object)[np.asarray(h.preferred, dtype=np.int64)]
        if len(h) else np.zeros(0, dtype=object),
    })
    columns: dict[str, Any] = {
        "building_id": b_ids, "name": _text(b.name), "grid": _text(b.grid), "compound": _text(b.compound),
        "lon": _decimal(b.lon), "lat": _decimal(b.lat),
        "risk_zone": _ZONE_NAMES[np.asarray(b.zone, dtype=np.int64)] if len(b) else np.zeros(0, dtype=object),
    }
    if b.district is not None:
        columns["district"] = _text(b.district)
    _write(directory / HOUSEHOLD_FILES["buildings"], columns)
    if not sites:
        return {k: v for k, v in HOUSEHOLD_FILES.items() if k != "sites"}
    write_sites_file(registry.sites, directory / HOUSEHOLD_FILES["sites"])
    return dict(HOUSEHOLD_FILES)
