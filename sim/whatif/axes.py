"""The staff axes a what-if sweep can vary and the range syntax of `--staff-range` (light to import)."""

from __future__ import annotations

import math
import re

from sampler.errors import COMMAND_LINE, InputError, InputIssue

__all__ = ["AXES", "INTEGER_AXES", "parse_range"]

#: Axes a sweep can vary, with what their values mean.
AXES: dict[str, str] = {
    "tables": "staffed tables at each site as a share of its registered tables (rounded, at least 1)",
    "registrars": "registrars per staffed table (0 = the table team registers)",
    "home_teams": "home-visit teams",
    "relief": "relief teams per site (covering PPE hand-overs)",
    "lab": "lab capacity, tubes per hour (0 = unlimited)",
}
INTEGER_AXES = {"home_teams", "relief"}
_RANGE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*:\s*([-+]?\d+(?:\.\d+)?)\s*(?::\s*([-+]?\d+(?:\.\d+)?))?\s*$")


def parse_range(axis: str, text: str, source: str = COMMAND_LINE) -> list[float]:
    """Values of one axis from ``START:STOP[:STEP]`` (both ends included) or ``v1,v2,...``.

    Raises InputError for an unknown axis, an empty or descending range, a zero step, negative
    staff, a fractional team count or a table share of zero.
    """
    where = f"--staff-range {axis}" if source == COMMAND_LINE else f"whatif.ranges.{axis}"

    def bad(fix: str) -> InputError:
        return InputError([InputIssue(source, None, where, text, fix)])

    if axis not in AXES:
        raise InputError([InputIssue(source, None, "--staff-range", f"{axis}={text}",
                                     f"use one of {', '.join(AXES)} (e.g. tables=0.6:1.4:0.1)")])
    m = _RANGE.match(text)
    if m:
        start, stop = float(m.group(1)), float(m.group(2))
        step = float(m.group(3)) if m.group(3) else 1.0
        if step <= 0:
            raise bad("use a positive step, e.g. 0.6:1.4:0.1")
        if stop < start:
            raise bad("the range is empty: write START:STOP with START ≤ STOP")
        n = math.floor((stop - start) / step + 1e-9) + 1
        if n > 1000:
            raise bad("that is more than 1000 levels; use a larger step")
        values = [round(start + i * step, 9) for i in range(n)]
    else:
        try:
            values = [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise bad("write START:STOP:STEP or a comma-separated list of numbers") from None
        if not values:
            raise bad("the list is empty: give at least one value")
    if any(v < 0 for v in values):
        raise bad("staff levels cannot be negative")
    if axis == "tables" and any(v <= 0 for v in values):
        raise bad("a table share must be positive (every site keeps at least one table)")
    if axis in INTEGER_AXES and any(v != int(v) for v in values):
        raise bad("teams are whole numbers")
    return sorted(set(values))


