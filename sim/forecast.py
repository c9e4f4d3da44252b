"""Forecast the rest of a sampling day from the live state (check-ins so far).

From the state at ``at`` — who is sampled (check-ins up to ``at``), per site the queue that should
already have arrived, the households still due — the day model (`sim.engine`, resumed with
`sim.resume.Resume`) simulates the rest of the day R times, each site's service rate calibrated
from its own check-ins. It answers, per site, when it will finish and how likely inside the
window; per grid, the coverage expected at the window's end; and which sites will not make it.

Calibration (docs/day.md, Forecast): the check-ins of a site are counted in bins of ``bin_min``
minutes. Its queue is followed bin by bin with the Lindley recursion ``Q = max(0, Q + a − n)``
(``a``: people expected to arrive in the bin — the site's planned households spread uniformly over
their slots, less the no-show share; ``n``: people checked in there). A bin is **busy** when the
queue held at least one person per table at its start and at its end: then every table was
working and what the site checked in measures its speed, not its demand. Its speed is a Gamma
posterior: prior Gamma(k, k / μ₀) per staffed table-hour (μ₀ the planned people per table-hour, k
= ``prior_people``: the prior weighs as much as k people checked in), Poisson counts over the busy
staffed table-hours T with n people give Gamma(k + n, k / μ₀ + T), mean (k + n) / (k / μ₀ + T).
Only bins between the site's first and last check-in count (none: no evidence), and a site with
no busy time keeps its planned rate exactly. The simulator then runs that site's
service ``planned / calibrated`` times slower (or faster).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from sampler.day.ledger import CHINA, DayPlan, Ledger, validate_checkins
from sampler.errors import COMMAND_LINE, InputError, InputIssue
from sampler.executors import Executor, SerialExecutor
from sampler.io.timefmt import window_minute
from sampler.model import CountProgress, FloatArray, IntArray, Registry, StrArray
from sampler.params import Scenario
from sampler.planfiles.read import PlanFiles
from sim.engine import run_replication
from sim.inputs import SimInputs, join, placement
from sim.params import SimParams
from sim.records import FOLLOWED_UP, RETURNED, SAMPLED, UNSERVED, WALK_IN
from sim.resume import Resume
from sim.staff import shift_calendar

__all__ = [
    "Checkins",
    "ForecastDay",
    "ForecastParams",
    "ForecastResult",
    "SiteCalibration",
    "calibrate",
    "checkins_from_rows",
    "forecast",
    "forecast_day",
    "parse_at",
    "resume_at",
    "write_forecast",
]

FORECAST_FILES = ("forecast.json", "sites.csv", "grids.csv", "forecast.png")


@dataclass(frozen=True)
class ForecastParams:
    """How the forecast calibrates and judges.

    Attributes
    ----------
    bin_min
        Minutes per bin in which check-ins are counted for the calibration.
    prior_people
        Weight of the planned rate, in people checked in (k of the Gamma prior).
    late_below
        A site is flagged 来不及 when its probability of finishing inside the window is below this.
    busy_queue_min
        A bin counts as busy when the site's estimated queue (in service or waiting) held at least
        this many minutes of work at the model's speed at its start and at its end (with the
        10-minute bins: the queue cannot have run dry inside the bin).
    """

    bin_min: float = 10.0
    prior_people: float = 50.0
    late_below: float = 0.5
    busy_queue_min: float = 10.0


@dataclass(frozen=True, eq=False)
class ForecastDay:
    """A plan ready to forecast: its simulator inputs plus what joins them to the registry.

    Attributes
    ----------
    inputs
        The day model's inputs (`sim.inputs.join`).
    rows, home_rows
        Registry row of each site household (``inputs.ids``) and home-visit household.
    ids, size, grid
        Per registry household: id, people, grid (网格) of its building.
    planned_rate
        Per site: planned people per hour (tables × people per table-hour).
    start
        The window's start, timezone-aware.
    codes
        Per registry household, its resident code from the plan ('' if none).
    site_of_row, slot_end_of_row
        Per registry household: planned site (−1: home visit or unplaced) and slot end (−1: unplaced).
    """

    inputs: SimInputs
    rows: IntArray
    home_rows: IntArray
    ids: StrArray
    size: IntArray
    grid: StrArray
    planned_rate: FloatArray
    start: dt.datetime
    codes: StrArray
    site_of_row: IntArray
    slot_end_of_row: IntArray
    area: str = ""

    @property
    def end_minute(self) -> float:
        return self.inputs.window_hours * 60.0

    def clock(self, minute: float) -> dt.datetime:
        return self.start + dt.timedelta(minutes=float(minute))


def forecast_day(scenario: Scenario, registry: Registry, plan: PlanFiles, params: SimParams | None = None,
                 tz: dt.tzinfo = CHINA) -> ForecastDay:
    """Join a plan directory (or stored plan) with its registry for forecasting; InputError as `prepare`."""
    placed = placement(scenario, registry, plan)
    inputs = join(scenario, registry, placed, params)
    hh = registry.households
    n = len(hh.id)
    site_of_row = np.full(n, -1, dtype=np.int64)
    site_of_row[placed.rows] = placed.site
    slot_end = np.full(n, -1, dtype=np.int64)
    slot_end[placed.rows] = np.rint(placed.slot_end).astype(np.int64)
    slot_minutes = scenario.window.slot_minutes
    slot_end[placed.home_rows] = np.rint(placed.home_slot_start + slot_minutes).astype(np.int64)
    codes = np.full(n, "", dtype=object)
    contacts = plan.contacts
    if "code" in contacts.columns and len(contacts):
        where = pd.Index(hh.id.astype(str)).get_indexer(contacts["household_id"].astype(str))
        found = where >= 0
        codes[where[found]] = contacts["code"].astype(str).to_numpy()[found]
    rate = plan.sites["tables"].to_numpy(dtype=np.float64) * plan.sites["rate"].to_numpy(dtype=np.float64)
    start = scenario.window.start_time
    return ForecastDay(
        inputs=inputs, rows=np.asarray(placed.rows, dtype=np.int64), home_rows=np.asarray(placed.home_rows, dtype=np.int64),
        ids=np.asarray(hh.id, dtype=object), size=np.asarray(hh.size, dtype=np.int64),
        grid=np.asarray(registry.buildings.grid, dtype=object)[hh.building], planned_rate=rate,
        start=start if start.tzinfo else start.replace(tzinfo=tz), codes=codes, site_of_row=site_of_row,
        slot_end_of_row=slot_end, area=scenario.area,
    )


@dataclass(frozen=True, eq=False)
class Checkins:
    """Check-ins as arrays: registry row, site index (−1: a home visit), minute, people."""

    household: IntArray
    site: IntArray
    minute: FloatArray
    people: IntArray
    after_at: int = 0  # check-ins later than ``at``, left out

    @classmethod
    def none(cls) -> Checkins:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.household)

    def until(self, minute: float) -> Checkins:
        """The check-ins up to ``minute`` (the later ones counted in ``after_at``)."""
        keep = self.minute <= minute + 1e-9
        return Checkins(self.household[keep], self.site[keep], self.minute[keep], self.people[keep],
                        self.after_at + int((~keep).sum()))

    def sampled(self, n: int) -> IntArray:
        """People sampled per registry household."""
        return np.bincount(self.household, weights=self.people, minlength=n).astype(np.int64)


def day_plan_of(day: ForecastDay) -> DayPlan:
    """The sampling day's view (`sampler.day.ledger.DayPlan`) of a forecast day, to validate check-ins."""
    n = len(day.ids)
    no = np.zeros(1, dtype=object)
    return DayPlan(area=day.area, household_ids=day.ids, codes=day.codes, size=day.size, site=day.site_of_row,
                   slot_end=day.slot_end_of_row, building=np.zeros(n, np.int64), building_ids=no,
                   building_grid=no, building_compound=no, site_ids=list(day.inputs.site_ids),
                   site_names=list(day.inputs.site_names), start=day.start, hours=day.inputs.window_hours)


_FIELDS = (("id", "id"), ("code", "code"), ("household_id", "household_id"), ("phone", "phone"),
           ("site", "site_id"), ("at ", "at"), ("more people", "people"), ("people", "people"), ("give code", "code"))


def _field_of(reason: str) -> str:
    for prefix, name in _FIELDS:
        if reason.startswith(prefix):
            return name
    return "(row)"


def checkins_from_rows(day: ForecastDay, rows: Sequence[Mapping[str, Any]], file: str) -> Checkins:
    """Validate check-in rows (`sampler.day.files.read_checkins`) against the plan; InputError naming
    every rejected row (file, data row, field, value, reason) — e.g. a file of another plan."""
    outcome = validate_checkins(day_plan_of(day), Ledger.empty(day_plan_of(day)), rows)
    if outcome.rejected:
        problems = []
        for r in outcome.rejected[:200]:
            row = rows[r.index]
            name = _field_of(r.reason)
            value = row.get(name, "") if name != "code" else (row.get("code") or row.get("household_id") or row.get("phone") or "")
            fix = r.reason
            if name in ("code", "household_id", "phone"):
                fix += "; is this the check-in export of this plan (its codes are in the plan's contacts.csv)?"
            problems.append(InputIssue(file, int(row.get("row", r.index + 1)), name, str(value), fix))
        if len(outcome.rejected) == len(rows) and len(rows) > 1:
            problems.insert(0, InputIssue(file, None, "(file)", f"{len(rows)} rows",
                                          "no row matches this plan: give the check-in export of this plan"))
        raise InputError(problems)
    acc = outcome.accepted
    return Checkins(np.array([c["household"] for c in acc], dtype=np.int64),
                    np.array([c["site"] for c in acc], dtype=np.int64),
                    np.array([c["minute"] for c in acc], dtype=np.float64),
                    np.array([c["people"] for c in acc], dtype=np.int64))


def parse_at(text: str, day: ForecastDay, source: str = COMMAND_LINE, name: str = "--at") -> float:
    """Minute of the window of a time (``2022-11-23 12:00``, ``12:00`` on the window's first day, or
    RFC 3339); InputError when unreadable or outside the window (`sampler.io.timefmt.window_minute`)."""
    return window_minute(text, day.start, day.end_minute, source, name)


@dataclass(frozen=True)
class SiteCalibration:
    """A site's speed so far: planned, observed over its busy time, and the calibrated (posterior) rate.

    Rates are people per hour with every table staffed. ``speed`` is the posterior mean of the
    site's speed relative to the day model (1 = as the model serves its households; ``scale`` =
    1 / ``speed`` multiplies its service times in the forecast), ``speed_p05``/``speed_p95`` its
    90 % posterior interval.
    """

    site_id: str
    name: str
    planned_rate: float  # tables × people per table-hour, as planned
    model_rate: float  # what the day model serves at this site at speed 1 (its households' mix)
    checked_in_people: int
    busy_hours: float  # busy staffed table-hours / tables
    busy_people: int
    observed_rate: float | None  # people per hour over the busy time (None: never busy)
    rate: float  # calibrated: speed × model_rate
    speed: float
    speed_p05: float
    speed_p95: float
    scale: float

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = round(v, 4)
        return out


def _expected_arrivals(inputs: SimInputs, params: SimParams, edges: FloatArray) -> FloatArray:
    """Per site, people expected to have arrived by each edge: each slot's households spread
    uniformly over the slot, shifted by the mean lateness, less the no-show share."""
    shift = params.lateness_mean_min if params.arrival == "lateness" else 0.0
    frame = pd.DataFrame({"site": inputs.site, "lo": inputs.slot_start, "hi": inputs.slot_end, "size": inputs.size})
    groups = frame.groupby(["site", "lo", "hi"], sort=False)["size"].sum().reset_index()
    out = np.zeros((inputs.n_sites, len(edges)))
    if len(groups):
        lo, hi = groups["lo"].to_numpy()[:, None] + shift, groups["hi"].to_numpy()[:, None] + shift
        part = np.clip((edges[None, :] - lo) / np.maximum(hi - lo, 1e-9), 0.0, 1.0)
        np.add.at(out, groups["site"].to_numpy(), part * groups["size"].to_numpy()[:, None] * (1.0 - params.no_show))
    return out


def _mean(spec: tuple[float, float, float]) -> float:
    lo, mode, hi = spec
    return float(lo) if hi <= lo else (lo + mode + hi) / 3.0


def model_rates(inputs: SimInputs, params: SimParams) -> FloatArray:
    """People per table-hour the day model serves at each site (its households' sizes, elderly and
    children; registrars' pre-registration), at speed 1; the planned 80/h where it has none."""
    from sim.service import preregistration_probability

    size = np.maximum(inputs.size, 1)
    old = np.minimum(inputs.elderly, size)
    young = np.minimum(inputs.elderly + inputs.children, size) - old
    swabs = old * params.elderly_factor + young * params.child_factor + (size - old - young)
    chance = preregistration_probability(inputs.registrars, inputs.tables)
    reg = _mean(params.registration_s) * (1.0 - (chance[inputs.site] if chance is not None else 0.0))
    minutes = (reg + _mean(params.swab_s) * swabs) / 60.0
    people = np.bincount(inputs.site, weights=size, minlength=inputs.n_sites)
    busy = np.bincount(inputs.site, weights=minutes, minlength=inputs.n_sites)
    return np.where(busy > 0, 60.0 * people / np.maximum(busy, 1e-12), 80.0)


def busy_time(arrivals: FloatArray, served: FloatArray, staffed: FloatArray, need: float,
              observed: npt.NDArray[np.bool_] | None = None) -> tuple[float, float]:
    """(people served, staffed table-minutes) over a site's busy bins.

    ``arrivals`` and ``served`` are people per bin, ``staffed`` the staffed table-minutes per bin.
    The queue (people there, in service or waiting) follows ``Q = max(0, Q + arrivals − served)``;
    a bin is busy when Q was at least ``need`` people at its start and at its end (and, with
    ``observed``, the bin lies between the site's first and last check-in: before the first one
    nobody was checking in, after the last one check-ins may still be on their way from devices
    that lost the network).
    """
    q, people, minutes = 0.0, 0.0, 0.0
    for b in range(len(served)):
        before = q
        q = max(0.0, q + float(arrivals[b]) - float(served[b]))
        if before >= need and q >= need > 0 and (observed is None or observed[b]):
            people += float(served[b])
            minutes += float(staffed[b])
    return people, minutes


def calibrate(day: ForecastDay, checkins: Checkins, at: float, params: SimParams,
              fparams: ForecastParams = ForecastParams()) -> list[SiteCalibration]:
    """Each site's calibrated rate from its own check-ins up to ``at`` (module docstring)."""
    inputs = day.inputs
    width = fparams.bin_min
    edges = np.arange(0.0, at + 1e-9, width)
    if len(edges) == 0 or edges[-1] < at - 1e-9:
        edges = np.append(edges, at)
    a = np.diff(_expected_arrivals(inputs, params, edges), axis=1)
    n_bins = len(edges) - 1
    at_site = (checkins.site >= 0) & (checkins.minute <= at + 1e-9)
    bins = np.clip(np.searchsorted(edges, checkins.minute[at_site], side="right") - 1, 0, max(n_bins - 1, 0))
    served = np.zeros((inputs.n_sites, max(n_bins, 1)))
    if n_bins:
        np.add.at(served, (checkins.site[at_site], bins), checkins.people[at_site])
    total = np.bincount(checkins.site[at_site], weights=checkins.people[at_site], minlength=inputs.n_sites)
    model = model_rates(inputs, params)
    k = fparams.prior_people
    out = []
    for s in range(inputs.n_sites):
        tables = int(inputs.tables[s])
        planned = float(day.planned_rate[s])
        people = minutes = 0.0
        m = float(model[s])
        if n_bins and tables > 0:
            cal = shift_calendar(float(inputs.open_at[s]), tables, params)
            staffed = np.diff([cal.staffed_minutes(float(e)) for e in edges])
            need = max(fparams.busy_queue_min * m * tables / 60.0, float(tables))
            seen = np.flatnonzero(served[s, :n_bins] > 0)
            if len(seen):  # the queue is followed from the start; evidence only where check-ins were seen
                span = np.zeros(n_bins, dtype=bool)
                span[seen[0]:seen[-1] + 1] = True
                people, minutes = busy_time(a[s], served[s, :n_bins], np.where(span, staffed, 0.0), need,
                                            span)
        hours = minutes / 60.0  # staffed table-hours
        if hours > 0:
            # speed θ: prior Gamma(k, k) (mean 1, worth k people), n ~ Poisson(θ · m · T)
            shape, rate_ = k + people, k + m * hours
            post = sps.gamma(shape, scale=1.0 / rate_)
            speed, p05, p95 = shape / rate_, float(post.ppf(0.05)), float(post.ppf(0.95))
        else:
            speed = p05 = p95 = 1.0
        out.append(SiteCalibration(
            inputs.site_ids[s], inputs.site_names[s], planned, m * tables, int(total[s]),
            hours / tables if tables else 0.0, int(people),
            people / hours * tables if hours > 0 else None,
            planned if hours <= 0 else speed * m * tables, float(speed), p05, p95, 1.0 / float(speed)))
    return out


def resume_at(day: ForecastDay, checkins: Checkins, at: float, calibration: Sequence[SiteCalibration],
              closed: npt.NDArray[np.bool_] | None = None) -> Resume:
    """The engine's state of the day at ``at``: who is sampled, each site's speed, and (``closed``,
    per registry household) who will not come."""
    sampled = checkins.sampled(len(day.ids))
    absent = np.zeros(0, dtype=bool) if closed is None else np.asarray(closed, dtype=bool)[day.rows]
    home_absent = np.zeros(0, dtype=bool) if closed is None else np.asarray(closed, dtype=bool)[day.home_rows]
    return Resume(at=float(at), sampled=sampled[day.rows], home_sampled=sampled[day.home_rows],
                  service_scale=np.array([c.scale for c in calibration], dtype=np.float64),
                  absent=absent, home_absent=home_absent)


_REGISTERED = np.array([SAMPLED, RETURNED, FOLLOWED_UP, UNSERVED])


def forecast_one(inputs: SimInputs, params: SimParams, resume: Resume, seed: np.random.SeedSequence,
                 ids: pd.Index, left: IntArray, grid_code: IntArray, n_grids: int) -> tuple[FloatArray, FloatArray]:
    """One replication of the rest of the day: per site its finish (minute; ``at`` when nothing is
    left; inf when someone is left unserved) and per grid the people sampled from ``at`` to the
    window's end."""
    rec = run_replication(inputs, params, seed, resume=resume)
    window = inputs.window_hours * 60.0
    at_site = (rec.site >= 0) & np.isin(rec.status, _REGISTERED)
    end = np.where(np.isfinite(rec.end), rec.end, np.inf)
    finish = np.full(inputs.n_sites, float(resume.at))
    if at_site.any():
        np.maximum.at(finish, rec.site[at_site], end[at_site])
    done = np.isfinite(rec.end) & (rec.end <= window) & (rec.status != WALK_IN)
    rows = ids.get_indexer(rec.ids[done])
    ok = rows >= 0
    people = np.zeros(len(left))
    np.add.at(people, rows[ok], rec.size[done][ok])
    people = np.minimum(people, left)
    by_grid = np.bincount(grid_code, weights=people, minlength=n_grids).astype(np.float64)
    return finish, by_grid


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """R replications of the rest of the day from ``at``.

    Attributes
    ----------
    finish
        Replications × sites: minute each site finishes its registered households (inf: never).
    grid_names, grid_people, grid_sampled, grid_done
        Grids, their registered people, people checked in by ``at``, and replications × grids
        people sampled from ``at`` to the window's end.
    due_people, remaining_people
        Per site: planned people whose slot has ended by ``at``; planned people not yet sampled.
    """

    day: ForecastDay
    at: float
    seed: int
    replications: int
    fparams: ForecastParams
    calibration: list[SiteCalibration]
    finish: FloatArray
    grid_names: list[str]
    grid_people: FloatArray
    grid_sampled: FloatArray
    grid_done: FloatArray
    due_people: IntArray
    remaining_people: IntArray
    checkins_used: int = 0
    checkins_after_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.day.end_minute

    def p_in_window(self) -> FloatArray:
        return np.asarray((self.finish <= self.end + 1e-9).mean(axis=0))

    def late(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.p_in_window() < self.fparams.late_below)

    def _finite_mean(self) -> FloatArray:
        f = np.where(np.isfinite(self.finish), self.finish, np.nan)
        with np.errstate(all="ignore"):
            mean = np.nanmean(f, axis=0) if len(f) else np.full(self.finish.shape[1], np.nan)
        return np.asarray(mean)

    def _iso(self, minute: float) -> str | None:
        if not math.isfinite(minute):
            return None
        return self.day.clock(round(minute, 4)).replace(microsecond=0).isoformat()

    def _clock(self, minute: float) -> str:
        """Local clock time as staff read it: ``HH:MM``, or ``11月24日 02:10`` on another day."""
        if not math.isfinite(minute):
            return "无法完成"
        t = self.day.clock(minute)
        if t.date() == self.day.start.date():
            return f"{t:%H:%M}"
        return f"{t.month}月{t.day}日 {t:%H:%M}"

    def sites(self) -> list[dict[str, Any]]:
        mean, p = self._finite_mean(), self.p_in_window()
        p10 = np.quantile(self.finish, 0.1, axis=0, method="lower")
        p90 = np.quantile(self.finish, 0.9, axis=0, method="higher")
        late = self.late()
        out = []
        for s, cal in enumerate(self.calibration):
            out.append({
                "site_id": cal.site_id, "name": cal.name, "due_people": int(self.due_people[s]),
                "remaining_people": int(self.remaining_people[s]),
                "observed_rate": None if cal.observed_rate is None else round(cal.observed_rate, 1),
                "planned_rate": round(cal.planned_rate, 1), "expected_finish": self._iso(float(mean[s])),
                "p_finish_in_window": round(float(p[s]), 4), "late": bool(late[s]),
                "calibrated_rate": round(cal.rate, 1), "p10_finish": self._iso(float(p10[s])),
                "p90_finish": self._iso(float(p90[s])),
            })
        return out

    def grids(self) -> list[dict[str, Any]]:
        share = (self.grid_sampled[None, :] + self.grid_done) / np.maximum(self.grid_people, 1)[None, :]
        mean = share.mean(axis=0)
        p10, p90 = np.quantile(share, 0.1, axis=0), np.quantile(share, 0.9, axis=0)
        return [{"grid": g, "people": int(self.grid_people[j]), "sampled_people": int(self.grid_sampled[j]),
                 "expected_coverage": round(float(mean[j]), 4), "p10": round(float(p10[j]), 4),
                 "p90": round(float(p90[j]), 4)} for j, g in enumerate(self.grid_names)]

    def late_sites(self) -> list[str]:
        return [c.site_id for c, flag in zip(self.calibration, self.late(), strict=True) if flag]

    def verdict(self) -> str:
        """One sentence in Chinese for staff."""
        at = self._clock(self.at)
        end = self._clock(self.end)
        late = [s for s in self.sites() if s["late"]]
        grids = self.grids()
        people = float(self.grid_people.sum())
        cover = float(sum(g["expected_coverage"] * g["people"] for g in grids) / people) if people else 1.0
        text = (f"截至{at}预测（{self.replications}次仿真）：窗口结束（{end}）时预计覆盖{cover:.1%}；")
        if not late:
            return text + "各采样点均能在窗口内完成。"
        names = "、".join(f"{s['name']}（窗口内完成概率{s['p_finish_in_window']:.0%}）" for s in late[:5])
        more = f"等{len(late)}个" if len(late) > 5 else f"{len(late)}个"
        return text + f"{more}采样点来不及：{names}。"

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.day.area, "at": self._iso(self.at), "replications": self.replications, "seed": self.seed,
            "window": {"start": self._iso(0.0), "end": self._iso(self.end)},
            "checkins": {"used": self.checkins_used, "after_at": self.checkins_after_at},
            "params": asdict(self.fparams),
            "calibration": [c.to_json() for c in self.calibration],
            "sites": self.sites(), "grids": self.grids(), "late_sites": self.late_sites(),
            "verdict": self.verdict(), **self.extra,
        }

    def sites_frame(self) -> pd.DataFrame:
        """sites.csv, with Chinese headers (staff read it)."""
        mean, p = self._finite_mean(), self.p_in_window()
        p10 = np.quantile(self.finish, 0.1, axis=0, method="lower")
        p90 = np.quantile(self.finish, 0.9, axis=0, method="higher")
        late = self.late()
        cal = self.calibration
        return pd.DataFrame({
            "站点编号": [c.site_id for c in cal], "站点名称": [c.name for c in cal],
            "已到时人数": self.due_people, "剩余人数": self.remaining_people,
            "已采人数": [c.checked_in_people for c in cal],
            "实测速率(人/时)": [None if c.observed_rate is None else round(c.observed_rate, 1) for c in cal],
            "计划速率(人/时)": [round(c.planned_rate, 1) for c in cal],
            "校准速率(人/时)": [round(c.rate, 1) for c in cal],
            "预计完成": [self._clock(float(m)) for m in mean],
            "完成P10": [self._clock(float(m)) for m in p10], "完成P90": [self._clock(float(m)) for m in p90],
            "窗口内完成概率": np.round(p, 4), "是否来不及": ["是" if x else "否" for x in late],
        })

    def grids_frame(self) -> pd.DataFrame:
        """grids.csv, with Chinese headers."""
        g = self.grids()
        return pd.DataFrame({"网格": [r["grid"] for r in g], "人数": [r["people"] for r in g],
                             "已采人数": [r["sampled_people"] for r in g],
                             "窗口结束预计覆盖率": [r["expected_coverage"] for r in g],
                             "覆盖率P10": [r["p10"] for r in g], "覆盖率P90": [r["p90"] for r in g]})


def forecast(day: ForecastDay, checkins: Checkins, at: float, params: SimParams, seed: int, replications: int,
             fparams: ForecastParams = ForecastParams(), executor: Executor | None = None,
             progress: CountProgress | None = None, closed: npt.NDArray[np.bool_] | None = None) -> ForecastResult:
    """Forecast the rest of the day from ``at`` (minutes from the window start): R seeded replications
    of the day model, resumed at ``at`` with each site's calibrated rate (common random numbers:
    replication i uses the i-th child of ``seed``, as `sim.replicate` does). ``closed`` (per
    registry household): follow-ups found them away, refusing or sampled elsewhere — nobody
    expects them, and they stay unsampled in the coverage."""
    problems = []
    if replications < 1:
        problems.append(InputIssue(COMMAND_LINE, None, "replications", str(replications), "run at least one replication"))
    if seed < 0:
        problems.append(InputIssue(COMMAND_LINE, None, "seed", str(seed), "use a seed ≥ 0"))
    if not 0 <= at <= day.end_minute:
        problems.append(InputIssue(COMMAND_LINE, None, "at", f"{at:g}", "give a time inside the window"))
    if params.mode != "plan":
        problems.append(InputIssue(COMMAND_LINE, None, "sim.mode", params.mode, "forecast a plan: sim.mode plan"))
    if problems:
        raise InputError(problems)
    used = checkins.until(at)
    calibration = calibrate(day, used, at, params, fparams)
    if closed is not None and len(closed) != len(day.ids):
        raise ValueError(f"closed must hold one flag per registry household ({len(day.ids)}), got {len(closed)}")
    resume = resume_at(day, used, at, calibration, closed)
    n = len(day.ids)
    sampled = np.minimum(used.sampled(n), day.size)
    left = day.size - sampled
    grid_codes, grid_names = pd.factorize(pd.Series(day.grid.astype(str)), sort=True)
    grid_code = np.asarray(grid_codes, dtype=np.int64)
    n_grids = len(grid_names)
    ids = pd.Index(day.ids.astype(str))
    children = np.random.SeedSequence(seed).spawn(replications)
    ex: Executor = executor or SerialExecutor()
    futures = [ex.submit(forecast_one, day.inputs, params, resume, child, ids, left, grid_code, n_grids)
               for child in children]
    finish = np.zeros((replications, day.inputs.n_sites))
    done = np.zeros((replications, n_grids))
    for i, future in enumerate(futures):
        finish[i], done[i] = future.result()
        if progress is not None:
            progress(i + 1, replications)
    inputs = day.inputs
    due = np.bincount(inputs.site, weights=np.where(inputs.slot_end <= at + 1e-9, inputs.size, 0),
                      minlength=inputs.n_sites).astype(np.int64)
    remaining = np.bincount(inputs.site, weights=resume.left(inputs), minlength=inputs.n_sites).astype(np.int64)
    return ForecastResult(
        day=day, at=float(at), seed=seed, replications=replications, fparams=fparams, calibration=calibration,
        finish=finish, grid_names=[str(g) for g in grid_names],
        grid_people=np.bincount(grid_code, weights=day.size, minlength=n_grids).astype(np.float64),
        grid_sampled=np.bincount(grid_code, weights=sampled, minlength=n_grids).astype(np.float64), grid_done=done,
        due_people=due, remaining_people=remaining, checkins_used=len(used), checkins_after_at=used.after_at,
    )


def write_forecast(result: ForecastResult, directory: Path, charts: bool = True, force: bool = False,
                   inputs: Sequence[Path] = ()) -> None:
    """forecast.json, sites.csv, grids.csv and forecast.png, all or nothing (`sampler.io.atomic`)."""
    from sampler.io.atomic import atomic_directory
    from sampler.io.csvsafe import neutralise_frame
    from sim.charts import forecast_chart

    with atomic_directory(directory, "forecast", force=force, inputs=list(inputs)) as tmp:
        (tmp / "forecast.json").write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
        neutralise_frame(result.sites_frame()).to_csv(tmp / "sites.csv", index=False, lineterminator="\n",
                                                   encoding="utf-8-sig")  # Excel/WPS read the BOM
        neutralise_frame(result.grids_frame()).to_csv(tmp / "grids.csv", index=False, lineterminator="\n",
                                                   encoding="utf-8-sig")
        if charts:
            forecast_chart(result, tmp / "forecast.png")
