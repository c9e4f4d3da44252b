"""One replication of the sampling day: the SimPy model and its flat records.

SimPy is the clock: one process per site dispatches households to tables, one per site walks
through the staffing changes (PPE hand-overs, or a roster's), one per home-visit team visits its
list. Random numbers come from
four streams spawned from the replication's seed (arrivals, service, home visits, samples),
so the same seed gives the same records.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import simpy

from sampler.plan.homeroute import travel_minutes
from sim.arrivals import Visits, draw_visits, poisson_visits
from sim.homevisits import TeamRun, door_minutes, team_process
from sim.inputs import SimInputs
from sim.params import SimParams
from sim.records import CLOSED, FOLLOWUP_HOME, HOME, MISSED, UNPLACED, UNSERVED, Records
from sim.resume import Resume
from sim.samples import SampleFlow, sample_flow
from sim.service import exponential_service, household_service, preregistration_probability
from sim.site import SiteRun, site_process
from sim.staff import Calendar, interval_calendar, shift_calendar, staff_process

__all__ = ["run_replication"]

Log = list[tuple[float, str]]


def _sites(env: simpy.Environment, inputs: SimInputs, visits: Visits, service: np.ndarray,
           params: SimParams, log: Log | None) -> tuple[list[SiteRun], list[simpy.Process]]:
    bounds = np.searchsorted(visits.site, np.arange(inputs.n_sites + 1))
    runs, staff = [], []
    for s in range(inputs.n_sites):
        lo, hi = int(bounds[s]), int(bounds[s + 1])
        cal: Calendar
        if inputs.roster is not None:
            cal = interval_calendar(inputs.roster[s])
        else:
            cal = shift_calendar(float(inputs.open_at[s]), int(inputs.tables[s]), params)
        ids = visits.ids[lo:hi].tolist() if log is not None else []
        run = SiteRun(inputs.site_ids[s], cal, visits.arrival[lo:hi].tolist(), service[lo:hi].tolist(), ids)
        runs.append(run)
        env.process(site_process(env, run, params.slot_tick_min, log))
        close = float(inputs.close_at[s])

        def keep_going(now: float, run: SiteRun = run, close: float = close) -> bool:
            return not run.finished or now < max(close, run.last_end)

        staff.append(env.process(staff_process(env, cal, inputs.site_ids[s], keep_going, log)))
    return runs, staff


def _teams(env: simpy.Environment, inputs: SimInputs, params: SimParams, rng: np.random.Generator,
           log: Log | None, left: np.ndarray | None = None) -> tuple[np.ndarray, list[TeamRun]]:
    order = np.lexsort((np.arange(len(inputs.home_ids)), inputs.home_stop, inputs.home_slot_start, inputs.home_team))
    door = door_minutes(len(order), inputs.visits_per_team_hour, params.home_travel_min, rng)
    if left is not None:  # resuming: households already visited are off the lists (same draws)
        todo = left[order] > 0
        order, door = order[todo], door[todo]
    team = inputs.home_team[order]
    bounds = np.searchsorted(team, np.arange(inputs.n_teams + 1))
    runs = []
    for t in range(inputs.n_teams):
        lo, hi = int(bounds[t]), int(bounds[t + 1])
        rows = order[lo:hi]
        # Travel before each visit: the route's distance at the teams' speed plus the fixed move.
        xy = np.column_stack([inputs.home_x[rows], inputs.home_y[rows]])
        b = inputs.home_building[rows]
        travel = np.r_[0.0, travel_minutes(xy[:-1], xy[1:], b[1:] == b[:-1], params.home_travel_min,
                                           inputs.home_m_per_min)] if len(rows) else np.zeros(0)
        run = TeamRun(f"team {t + 1}", inputs.home_ids[rows].tolist(), inputs.home_slot_start[rows].tolist(),
                      b.tolist(), door[lo:hi].tolist(), params.home_travel_min,
                      shift=params.shift_hours * 60,
                      gap=0.0 if params.relief_teams > 0 else params.handover_min, travel=travel.tolist())
        runs.append(run)
        env.process(team_process(env, run, log))
    return order, runs


def _sample_flow(station: np.ndarray, zone: np.ndarray, size: np.ndarray, end: np.ndarray, inputs: SimInputs,
                 params: SimParams, rng: np.random.Generator) -> SampleFlow:
    """Tubes, boxes and lab of the households swabbed (unserved ones, NaN end, have none)."""
    done = np.isfinite(end)
    if done.all():
        return sample_flow(station, zone, size, end, inputs.pooling, params, rng)
    flow = sample_flow(station[done], zone[done], size[done], end[done], inputs.pooling, params, rng)
    n = len(end)
    tube, box = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    lab, result = np.full(n, np.nan), np.full(n, np.nan)
    tube[done], box[done], lab[done], result[done] = flow.tube, flow.box, flow.lab_arrival, flow.result
    return replace(flow, tube=tube, box=box, lab_arrival=lab, result=result)


def run_replication(inputs: SimInputs, params: SimParams, seed: int | np.random.SeedSequence,
                    trace: bool = False, resume: Resume | None = None) -> Records:
    """Simulate one sampling day and return its records (with an event trace if ``trace``).

    With ``resume`` only the rest of the day from ``resume.at`` is simulated, on the same draws
    (`sim.resume`): the records then hold what is left to do, not the households already sampled.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    r_arrival, r_service, r_home, r_samples = (np.random.default_rng(s) for s in ss.spawn(4))
    poisson = params.mode == "poisson"
    if poisson:
        visits = poisson_visits(inputs, params, r_arrival)
        service = exponential_service(len(visits), params.poisson_service_min, r_service)
    else:
        visits = draw_visits(inputs, params, r_arrival)
        chance = preregistration_probability(inputs.registrars, inputs.tables)
        service = household_service(visits.size, visits.elderly, visits.children, params, r_service,
                                    None if chance is None else chance[visits.site])
    if resume is not None:
        if poisson:
            raise ValueError("a day cannot be resumed in poisson mode")
        resume.check(inputs)
        visits, service = resume.apply(inputs, visits, service)

    env = simpy.Environment(initial_time=resume.at if resume is not None else 0)
    log: Log | None = [] if trace else None
    runs, staff = _sites(env, inputs, visits, service, params, log)
    home_order: np.ndarray = np.zeros(0, dtype=np.int64)
    teams: list[TeamRun] = []
    if not poisson:
        home_order, teams = _teams(env, inputs, params, r_home, log,
                                   resume.home_left(inputs) if resume is not None else None)
    env.run()

    n_v, n_h = len(visits), len(home_order)
    # Households nobody queued for: follow-up home swabs (times known), closed cases, missed.
    fh, fh_at, closed = visits.followup_home, visits.followup_home_at, visits.closed
    missed = np.concatenate([fh, closed, visits.missed]).astype(np.int64)
    n_fh, n_c = len(fh), len(closed)
    n_m, n_u = len(missed), 0 if poisson else len(inputs.unplaced_ids)
    nan = np.full(n_m + n_u, np.nan)
    none = np.full(n_m + n_u, -1, dtype=np.int64)
    tail_end = np.concatenate([fh_at, np.full(n_m - n_fh + n_u, np.nan)])
    tail_status = np.concatenate([np.full(n_fh, FOLLOWUP_HOME), np.full(n_c, CLOSED),
                                  np.full(n_m - n_fh - n_c, MISSED), np.full(n_u, UNPLACED)])
    site_start = np.array([t for r in runs for t in r.start])
    site_end = np.array([t for r in runs for t in r.end])
    home_start = np.array([t for r in teams for t in r.start])
    home_end = np.array([t for r in teams for t in r.end])
    n_sites = inputs.n_sites

    served = np.isfinite(site_start)
    kind = visits.kind if served.all() else np.where(served, visits.kind, UNSERVED)
    status = np.concatenate([kind, np.full(n_h, HOME), tail_status])
    tail_site = inputs.site[missed].copy()
    tail_site[:n_fh] = -1  # swabbed at home after the call: no queue at a site
    site = np.concatenate([visits.site, np.full(n_h, -1), tail_site, np.full(n_u, -1)])
    table = np.concatenate([np.array([k for r in runs for k in r.table], dtype=np.int64), np.full(n_h, -1), none])
    team = np.concatenate([np.full(n_v, -1), inputs.home_team[home_order], none]).astype(np.int64)
    size = np.concatenate([visits.size, inputs.home_size[home_order], inputs.size[missed],
                           inputs.unplaced_size[:n_u]]).astype(np.int64)
    zone = np.concatenate([visits.zone, inputs.home_zone[home_order], inputs.zone[missed],
                           inputs.unplaced_zone[:n_u]]).astype(np.int64)
    sampled = n_v + n_h
    station = np.concatenate([visits.site, n_sites + inputs.home_team[home_order]]).astype(np.int64)
    end = np.concatenate([site_end, home_end])
    flow = _sample_flow(station, zone[:sampled], size[:sampled], end, inputs, params, r_samples)

    staffed = np.array([r.cal.staffed_minutes(max(float(inputs.close_at[s]), r.last_end))
                        for s, r in enumerate(runs)])
    people = int(visits.size.sum()) if poisson else inputs.people
    return Records(
        ids=np.concatenate([visits.ids, inputs.home_ids[home_order], inputs.ids[missed],
                            inputs.unplaced_ids[:n_u]]).astype(object),
        status=status.astype(np.int64), site=site.astype(np.int64), table=table, team=team, size=size, zone=zone,
        arrival=np.concatenate([visits.arrival, inputs.home_slot_start[home_order], nan]),
        start=np.concatenate([site_start, home_start, tail_end]), end=np.concatenate([end, tail_end]),
        tube=np.concatenate([flow.tube, none]), box=np.concatenate([flow.box, none]),
        lab_arrival=np.concatenate([flow.lab_arrival, nan]), result=np.concatenate([flow.result, nan]),
        boxes=flow.boxes, site_ids=inputs.site_ids, site_names=inputs.site_names, tables=inputs.tables,
        queue_m=inputs.queue_m, open_at=inputs.open_at, close_at=inputs.close_at, staffed_minutes=staffed,
        handovers=np.array([p.value for p in staff], dtype=np.int64), window_hours=inputs.window_hours,
        people=people, trace=sorted(log, key=lambda e: e[0]) if log is not None else None,
    )
