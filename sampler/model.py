"""The domain: sites, buildings and households, held column-wise so a million rows stay cheap.

Row-level dataclasses (`Site`, `Building`, `Household`) are what code outside the planner sees;
`BuildingTable` and `HouseholdTable` keep the same fields as numpy arrays for the planner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PERIODS",
    "SPECIAL_NEEDS",
    "Building",
    "CountProgress",
    "BuildingTable",
    "FloatArray",
    "Household",
    "HouseholdTable",
    "IntArray",
    "Progress",
    "Registry",
    "RiskZone",
    "Site",
    "StrArray",
    "needs_mask",
    "needs_names",
    "no_progress",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.object_]

# The one home of the aliases every layer uses (this module is the shared vocabulary and imports
# only numpy, so any module may import them without pulling in a heavy library).
Progress = Callable[[str, float], None]
"""Progress of a long step: the stage's name and the share done (0–1), for a progress bar."""
CountProgress = Callable[[int, int], None]
"""Progress counted in units of work: (done, total), e.g. replications or what-if levels."""


def no_progress(stage: str, done: float) -> None:
    """The `Progress` callback that does nothing (the default of every planning function)."""


class RiskZone(IntEnum):
    """Risk zone of a building (Jun 2022 rules): sealed stays home, controlled stays in compound."""

    PRECAUTION = 0  # 防范区
    CONTROLLED = 1  # 管控区
    SEALED = 2  # 封控区

    @property
    def label(self) -> str:
        return ("防范区", "管控区", "封控区")[self]

    @property
    def key(self) -> str:
        return ("precaution", "controlled", "sealed")[self]


# Special needs, in bit order of `HouseholdTable.needs`.
SPECIAL_NEEDS: tuple[str, ...] = ("elderly_alone", "disabled", "bedridden", "pregnant", "infant")
SPECIAL_NEEDS_ZH: tuple[str, ...] = ("独居老人", "失能", "卧床", "孕产妇", "婴幼儿")

# Preferred periods, in code order of `HouseholdTable.preferred` (0 = none).
PERIODS: tuple[str, ...] = ("", "morning", "afternoon", "evening")
PERIODS_ZH: tuple[str, ...] = ("", "上午", "下午", "晚上")


def needs_mask(names: list[str] | tuple[str, ...]) -> int:
    """Bit mask of the given special-need names."""
    return sum(1 << SPECIAL_NEEDS.index(n) for n in names)


def needs_names(mask: int) -> tuple[str, ...]:
    """Special-need names set in a bit mask."""
    return tuple(n for i, n in enumerate(SPECIAL_NEEDS) if mask >> i & 1)


@dataclass(frozen=True)
class Site:
    """A sampling site (采样点).

    Attributes
    ----------
    id, name
        Identifier and the name residents know (二中操场).
    lon, lat
        WGS84 coordinates.
    tables
        Sampling tables (采样台), each one swab team.
    rate
        People per table per hour.
    open_minute, close_minute
        Opening hours as minutes after midnight (close may be 1440; close < open spans midnight).
    serves
        Compounds it serves exclusively (a site inside a controlled compound); empty = public.
    queue_m
        Metres of queue space (1 m per person spacing).
    """

    id: str
    name: str
    lon: float
    lat: float
    tables: int
    rate: float
    open_minute: int = 0
    close_minute: int = 1440
    serves: tuple[str, ...] = ()
    queue_m: float = 100.0

    def is_open(self, minute_of_day: int) -> bool:
        """Whether the site is open at this clock minute."""
        m = minute_of_day % 1440
        if self.open_minute <= self.close_minute:
            return self.open_minute <= m < self.close_minute
        return m >= self.open_minute or m < self.close_minute


@dataclass(frozen=True)
class Building:
    """A building (楼栋) with its grid (网格), compound (小区/村), risk zone and district (街道; '' if not given)."""

    id: str
    name: str
    grid: str
    compound: str
    lon: float
    lat: float
    zone: RiskZone
    district: str = ""


@dataclass(frozen=True)
class Household:
    """A registered household (户), sampled together."""

    id: str
    building_id: str
    unit: str
    room: str
    size: int
    elderly: int
    children: int
    contact: str
    phone: str
    needs: tuple[str, ...]
    preferred: str


@dataclass(frozen=True, eq=False)
class BuildingTable:
    """Buildings column-wise; row i is building index i everywhere in the planner.

    ``district`` (街道, the street office a building belongs to) is optional: ``None`` when the
    buildings file has no such column; `districts` gives it as text either way.
    """

    id: StrArray
    name: StrArray
    grid: StrArray
    compound: StrArray
    lon: FloatArray
    lat: FloatArray
    zone: IntArray
    district: StrArray | None = None

    def __len__(self) -> int:
        return len(self.id)

    def districts(self) -> StrArray:
        """The district of every building ('' where not given)."""
        if self.district is None:
            return np.full(len(self.id), "", dtype=object)
        return self.district

    def row(self, i: int) -> Building:
        return Building(
            str(self.id[i]), str(self.name[i]), str(self.grid[i]), str(self.compound[i]),
            float(self.lon[i]), float(self.lat[i]), RiskZone(int(self.zone[i])),
            "" if self.district is None else str(self.district[i]),
        )


TEXT_COLUMNS: tuple[str, ...] = ("id", "unit", "room", "contact", "phone")


@dataclass(frozen=True, eq=False)
class HouseholdTable:
    """Households column-wise. ``building`` holds indices into the BuildingTable."""

    id: StrArray
    building: IntArray
    unit: StrArray
    room: StrArray
    size: IntArray
    elderly: IntArray
    children: IntArray
    contact: StrArray
    phone: StrArray
    needs: IntArray
    preferred: IntArray

    def __len__(self) -> int:
        return len(self.size)

    @classmethod
    def with_text(cls, text: Mapping[str, Any], **columns: Any) -> HouseholdTable:
        """A table whose text columns named in ``text`` (of id, unit, room, contact, phone) are held
        as Arrow string arrays and become numpy object arrays only when first read: the planner
        never reads ids, contacts or phones, and the plan files are written from Arrow directly
        (`arrow`), so a million rows skip two conversions of each. Same values either way."""
        names = {f.name for f in fields(cls)}
        if set(text) | set(columns) != names or set(text) & set(columns) or not set(text) <= set(TEXT_COLUMNS):
            raise TypeError("give every column once; only text columns may be Arrow arrays")
        table = cls.__new__(cls)
        for name, value in columns.items():
            object.__setattr__(table, name, value)
        object.__setattr__(table, "_arrow", dict(text))
        return table

    def __getattr__(self, name: str) -> Any:
        """A text column given as Arrow (`with_text`) on first use: converted once, then kept."""
        arrow = self.__dict__.get("_arrow")
        if arrow is None or name not in arrow:
            raise AttributeError(name)
        value = np.asarray(arrow[name].to_numpy(zero_copy_only=False), dtype=object)
        object.__setattr__(self, name, value)
        return value

    def arrow(self, name: str) -> Any:
        """The Arrow array a text column was given as (`with_text`), or None."""
        arrow = self.__dict__.get("_arrow")
        return None if arrow is None else arrow.get(name)

    def row(self, i: int, buildings: BuildingTable) -> Household:
        return Household(
            str(self.id[i]), str(buildings.id[self.building[i]]), str(self.unit[i]), str(self.room[i]),
            int(self.size[i]), int(self.elderly[i]), int(self.children[i]), str(self.contact[i]),
            str(self.phone[i]), needs_names(int(self.needs[i])), PERIODS[int(self.preferred[i])],
        )


@dataclass(frozen=True, eq=False)
class Registry:
    """Everything read from the registry files, validated.

    Attributes
    ----------
    households, buildings, sites
        The area's data.
    hashes
        SHA-256 of each input file, by role (households, buildings, sites; or persons,
        compounds, sites), for the plan record.
    warnings
        Problems that do not stop planning (a landline, an identity number failing its check
        digit), each an `sampler.errors.InputIssue` naming file, row, field, value and what to do.
    """

    households: HouseholdTable
    buildings: BuildingTable
    sites: tuple[Site, ...]
    hashes: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Any, ...] = ()

    @property
    def people(self) -> int:
        return int(self.households.size.sum())
