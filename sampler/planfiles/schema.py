"""The plan directory's tables: every CSV file `sampler plan` writes, its columns, types and meaning.

This is the one home of the plan-directory format. The writer (`sampler.planfiles.write`) builds
its frames with `PlanTable.conform`, the reader (`sampler.planfiles.read`) reads with its dtypes,
the SMS export checks its columns, the service builds its ``plan_*`` database tables from it
(`api.models`) and the column tables of docs/formats.md are generated from it::

    python -m sampler.planfiles.schema --markdown              # print the tables
    python -m sampler.planfiles.schema --update docs/formats.md

Adding a column is one edit here (and the writer computing its values).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FLOAT", "INT", "TABLES", "TEXT", "Kind", "PlanColumn", "PlanTable", "markdown", "update_markdown"]

Kind = Literal["text", "int", "float"]
TEXT: Kind = "text"
INT: Kind = "int"
FLOAT: Kind = "float"
SLOT = "`YYYY-MM-DD HH:MM`"


@dataclass(frozen=True)
class PlanColumn:
    """One column of a plan table.

    Attributes
    ----------
    name
        Header in the CSV file and column name in the database.
    kind
        ``text`` (never missing: '' for blank), ``int`` or ``float`` (a blank reads as NaN).
    doc
        One line for docs/formats.md.
    blank
        An ``int`` that may be blank (pandas' nullable Int64; NULL in the database).
    """

    name: str
    kind: Kind
    doc: str
    blank: bool = False

    def __post_init__(self) -> None:
        if self.blank and self.kind != INT:
            raise ValueError(f"{self.name}: only int columns may be blank; text is '' when empty")

    @property
    def dtype(self) -> Any:
        """The pandas dtype of the column in the writer's and the reader's frames."""
        import numpy as np
        import pandas as pd

        if self.kind == TEXT:
            return _text_dtype()
        if self.kind == FLOAT:
            return np.dtype(np.float64)
        return pd.Int64Dtype() if self.blank else np.dtype(np.int64)

    @property
    def may_be_blank(self) -> bool:
        """Whether a number column reads a blank as missing (NaN or <NA>); text is '' instead."""
        return self.blank or self.kind == FLOAT

    @property
    def type_text(self) -> str:
        """The type as docs/formats.md names it."""
        return {TEXT: "text", FLOAT: "number", INT: "integer or blank" if self.blank else "integer"}[self.kind]


@functools.cache
def _text_dtype() -> Any:
    import pandas as pd

    return pd.Series([""], dtype=object).astype(str).dtype  # pandas' default text dtype


@dataclass(frozen=True)
class PlanTable:
    """One CSV file of the plan directory (``<name>.csv``; database table ``plan_<name>``).

    Attributes
    ----------
    name
        File stem.
    doc
        What a row is and in which order rows come (Markdown, for docs/formats.md).
    columns
        In file order.
    optional
        Columns only some plans have, after ``columns`` in this order (a re-plan's ``change``):
        written when the plan has them, read when the file has them, and absent from older plans,
        which read as before. The service's database tables hold only ``columns``.
    """

    name: str
    doc: str
    columns: tuple[PlanColumn, ...]
    optional: tuple[PlanColumn, ...] = ()

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def dtypes(self) -> dict[str, Any]:
        """Column name → pandas dtype."""
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> PlanColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.file} has no column {name!r}")

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with this table's dtypes; ValueError unless it has exactly the columns, in order.

        Columns already of the right dtype are not copied (text columns of a million rows stay as built).
        """
        extra_names = [c.name for c in self.optional if c.name in frame.columns]
        if list(frame.columns) != self.names + extra_names:
            missing = [c for c in self.names if c not in frame.columns]
            extra = [c for c in frame.columns if c not in self.names]
            raise ValueError(f"{self.file}: columns {list(frame.columns)} are not the schema's {self.names} "
                             f"(missing {missing}, not in the schema {extra}); edit sampler/planfiles/schema.py "
                             "and the writer together")
        current = frame.dtypes
        casts = {c.name: c.dtype for c in (*self.columns, *self.optional)
                 if c.name in frame.columns and current[c.name] != c.dtype}
        return frame.astype(casts) if casts else frame


def _col(name: str, kind: Kind, doc: str, blank: bool = False) -> PlanColumn:
    return PlanColumn(name, kind, doc, blank)


def _household_id() -> PlanColumn:
    return _col("household_id", TEXT, "household id, as in the registry")


def _building_id() -> PlanColumn:
    return _col("building_id", TEXT, "the household's building")


def _size() -> PlanColumn:
    return _col("size", INT, "people in the household")


def _slot_start() -> PlanColumn:
    return _col("slot_start", TEXT, f"start of the slot, {SLOT}")


def _slot_end() -> PlanColumn:
    return _col("slot_end", TEXT, f"end of the slot (the next slot's start), {SLOT}")


def _code() -> PlanColumn:
    return _col("code", TEXT, "the household's resident code (8 characters, no 0/O/1/I/L; `sampler.day.codes`): "
                              "what residents type to look up their slot and what site staff check in")


def _mode() -> PlanColumn:
    return _col("mode", TEXT, "`site` (sampled at a site) or `home` (home visit)")


_TABLES = (
    PlanTable("assignments", "One row per placed household, in registry order.", (
        _household_id(), _code(), _building_id(),
        _col("unit", TEXT, "unit (entrance), as in the registry; may be blank"),
        _col("room", TEXT, "room number, as in the registry; may be blank"),
        _size(), _mode(),
        _col("site_id", TEXT, "the site; blank for home visits"),
        _col("team", INT, "home-visit team number (1-based); blank for site households", blank=True),
        _slot_start(), _slot_end(),
        _col("walk_minutes", FLOAT, "walking minutes to the site; 0 for home visits"),
        _col("over_max_walk", INT, "1 when the walk is longer than `walk.max_minutes`, else 0"),
        _col("extra_walk_minutes", FLOAT, "minutes the walk exceeds `walk.max_minutes` (`walk_minutes` − "
                                          "`walk.max_minutes`); 0 within the limit and for home visits"),
    ), optional=(
        _col("change", TEXT, "re-plans and rounds only (`sampler replan`, `sampler plan --previous`; docs/replan.md): "
                             "`sampled` (already sampled, untouched), `kept` (same site or home visit and slot as "
                             "the previous plan), `moved` (new site or slot), `home` (newly a home visit or a home "
                             "visit at a new time), `new` (not in the previous plan)"),
    )),
    PlanTable("site_load", "Every slot of every site: sites in `sites.csv` order, slots in time order.", (
        _col("site_id", TEXT, "the site"),
        _slot_start(),
        _col("people", INT, "people planned at the site in the slot"),
        _col("capacity", INT, "people the site can sample in the slot (0 while closed)"),
    )),
    PlanTable("buildings", "One row per (building, site or home, slot), by building, slot and site: what a "
                           "building notice prints.", (
        _col("building_id", TEXT, "building id, as in the registry"),
        _col("name", TEXT, "building name residents know, e.g. 3号楼"),
        _col("grid", TEXT, "grid (网格)"),
        _col("compound", TEXT, "compound or village (小区)"),
        _col("risk_zone", TEXT, "`precaution`, `controlled` or `sealed`"),
        _mode(),
        _col("site_id", TEXT, "the site; blank for home visits"),
        _slot_start(), _slot_end(),
        _col("households", INT, "households of the building sampled there in the slot"),
        _col("people", INT, "people of those households"),
    )),
    PlanTable("home_visits", "One row per household visited at home, by slot, team and visiting order (stop, "
                             "then unit and room).", (
        _household_id(), _building_id(),
        _col("unit", TEXT, "unit (entrance); may be blank"),
        _col("room", TEXT, "room number; may be blank"),
        _size(),
        _col("team", INT, "home-visit team number (1-based)"),
        _col("stop", INT, "stop of the team's route (1-based, in visiting order; the households of one building "
                          "share a stop)"),
        _slot_start(), _slot_end(),
        _col("arrival", TEXT, f"expected arrival of the team at the door, {SLOT} (the slot start when the plan "
                              "has no routes: `home_visits.routing: false`)"),
        _col("reason", TEXT, "why the household is visited at home"),
    )),
    PlanTable("unplaced", "Households the plan could not place, in registry order (header only when everyone "
                          "is placed).", (
        _household_id(), _building_id(), _size(),
        _col("reason", TEXT, "why, and what to change"),
    )),
    PlanTable("sites", "The sites as planned, so that the plan directory is self-contained for exports.", (
        _col("site_id", TEXT, "site id, as in the registry"),
        _col("name", TEXT, "name residents know"),
        _col("lon", FLOAT, "longitude (WGS84)"),
        _col("lat", FLOAT, "latitude (WGS84)"),
        _col("tables", INT, "sampling tables"),
        _col("rate", FLOAT, "people per table per hour"),
        _col("open", TEXT, "opening time `HH:MM`"),
        _col("close", TEXT, "closing time `HH:MM` (`24:00` = midnight)"),
        _col("serves", TEXT, "`;`-separated compounds it serves exclusively; blank = any"),
        _col("queue_m", FLOAT, "metres of queue space"),
        _col("slot_capacity", INT, "most people it can sample in one slot"),
    )),
    PlanTable("contacts", "One row per household of the registry, kept apart from the assignments so that who "
                          "may read phone numbers can be controlled (SMS export only).", (
        _household_id(), _code(),
        _col("contact", TEXT, "head of household or contact person; may be blank"),
        _col("phone", TEXT, "phone number as in the registry; may be blank or invalid"),
    )),
)

TABLES: Mapping[str, PlanTable] = {t.name: t for t in _TABLES}
"""Every CSV table of the plan directory, by file stem, in the order they are written."""


BEGIN = "<!-- plan tables: generated by `python -m sampler.planfiles.schema --update docs/formats.md` -->"
END = "<!-- end of generated plan tables -->"


def markdown(tables: Mapping[str, PlanTable] | None = None) -> str:
    """The column tables of the plan directory for docs/formats.md (between BEGIN and END)."""
    lines = [BEGIN]
    for table in (TABLES if tables is None else tables).values():
        lines += ["", f"### {table.file}", table.doc, "", "| column | type | meaning |", "| --- | --- | --- |"]
        lines += [f"| {c.name} | {c.type_text} | {c.doc} |" for c in table.columns]
        lines += [f"| {c.name} | {c.type_text} (optional) | {c.doc} |" for c in table.optional]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def update_markdown(text: str, tables: Mapping[str, PlanTable] | None = None) -> str:
    """``text`` with its generated block (BEGIN … END) replaced by `markdown`; ValueError without one."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no block between {BEGIN!r} and {END!r}")
    return text[:start] + markdown(tables).rstrip("\n") + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    """``--markdown``: print the tables; ``--update FILE``: rewrite FILE's generated block."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--markdown"]:
        sys.stdout.write(markdown())
        return 0
    if len(args) == 2 and args[0] == "--update":
        path = Path(args[1])
        path.write_text(update_markdown(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    sys.stderr.write("usage: python -m sampler.planfiles.schema --markdown | --update docs/formats.md\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
