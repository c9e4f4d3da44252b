"""Write a simulation directory: summary.json, households.csv, coverage.csv, sites.csv, charts.

Everything is written to a private staging directory first and swapped in at the end, so a
failed run never leaves a half-written directory behind, and nothing sampler did not write is
replaced (`sampler.io.atomic`). Text cells are neutralised against formula injection
(`sampler.io.csvsafe`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from sampler.io.atomic import atomic_directory
from sampler.io.csvsafe import neutralise_frame
from sim.charts import coverage_chart, queue_chart
from sim.replicate import SimResult

__all__ = ["write_simdir"]


def write_simdir(result: SimResult, directory: Path, area: str = "", charts: bool = True,
                 staffing: dict[str, Any] | None = None, force: bool = False,
                 inputs: list[Path] | None = None) -> None:
    """Write every output file of a simulation run to ``directory`` (an earlier simulation output
    there is replaced; ``force`` and ``inputs`` as in `sampler.io.atomic.atomic_directory`).

    ``staffing`` (e.g. `sim.staffing.RosterStaffing.summary`) is recorded in summary.json; without
    it the staffing is ``{"source": "shifts"}`` (the PPE shift rules of the parameters).
    """
    with atomic_directory(directory, "simulate", force=force, inputs=inputs or ()) as tmp:
        summary = {"area": area, **result.summary(), "params": dataclasses.asdict(result.params),
                   "staffing": staffing or {"source": "shifts"}}
        (tmp / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
        result.records.write_csv(tmp / "households.csv")
        neutralise_frame(result.coverage()).to_csv(tmp / "coverage.csv", index=False, float_format="%.5f",
                                                   lineterminator="\n")
        sites = result.sites()
        neutralise_frame(sites).to_csv(tmp / "sites.csv", index=False, float_format="%.3f", lineterminator="\n")
        if charts:
            coverage_chart(result.coverage(), result.window_hours, tmp / "coverage.png",
                           start=result.window_start, replications=result.replications)
            queue_chart(result.records, sites, tmp / "queues.png", spacing_m=result.params.queue_spacing_m,
                        start=result.window_start, replications=result.replications)
