"""Erasing a campaign's personal data when it is over, keeping its statistics.

A campaign is a stored scenario and every plan made from it. `purge_scenario` deletes the
uploaded households registry (names, phones, rooms, special needs), every plan's contacts
(names and phones), the unit and room of every assignment and home visit, and the home-visit
reasons (health facts), and the error texts of the scenario's jobs (they may quote a registry
value); it withdraws the plans from the resident lookup and marks the scenario
purged, so no new plan or simulation can be made from it. What stays: the scenario's counts, the
buildings and sites files, plan summaries, site load, building slots, the workbook (per building
only), assignments by household id, building, site and slot, and the simulations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, update

from api.models import PLAN_TABLES, Job, Plan, Scenario, ScenarioFile, utcnow

__all__ = ["PurgeResult", "purge_scenario"]


@dataclass(frozen=True)
class PurgeResult:
    """What a purge erased: plans touched, contact rows deleted, registry files deleted."""

    scenario_id: int
    plans: list[int]
    contacts: int
    files: int
    already: bool

    @property
    def records(self) -> int:
        """Personal records erased (contacts, plus the households file's rows counted as one file)."""
        return self.contacts + self.files


def purge_scenario(engine: Engine, scenario_id: int) -> PurgeResult | None:
    """Erase the personal data of a scenario and its plans in one transaction; None if no such scenario.

    Purging twice is harmless (the second finds nothing left and says ``already``).
    """
    c, a, h = PLAN_TABLES["contacts"], PLAN_TABLES["assignments"], PLAN_TABLES["home_visits"]
    with engine.begin() as conn:
        row = conn.execute(select(Scenario.id, Scenario.purged_at).where(Scenario.id == scenario_id)).first()
        if row is None:
            return None
        plans = list(conn.execute(select(Plan.id).where(Plan.scenario_id == scenario_id).order_by(Plan.id)).scalars())
        contacts = conn.execute(select(func.count()).select_from(c).where(c.c.plan_id.in_(plans))).scalar_one()
        conn.execute(delete(c).where(c.c.plan_id.in_(plans)))
        conn.execute(update(a).where(a.c.plan_id.in_(plans)).values(unit="", room=""))
        conn.execute(update(h).where(h.c.plan_id.in_(plans)).values(unit="", room="", reason=""))
        conn.execute(update(Plan).where(Plan.id.in_(plans)).values(published=False))
        # A failed job's error may quote a registry value (a malformed phone, a name).
        conn.execute(update(Job).where(Job.scenario_id == scenario_id, Job.error != "")
                     .values(error="(erased by purge)"))
        files = conn.execute(delete(ScenarioFile).where(ScenarioFile.scenario_id == scenario_id,
                                                        ScenarioFile.role == "households")).rowcount
        conn.execute(update(Scenario).where(Scenario.id == scenario_id).values(purged_at=row.purged_at or utcnow()))
    return PurgeResult(scenario_id, plans, int(contacts), int(files or 0), row.purged_at is not None)
