"""Write a what-if directory: whatif.csv, site_staffing.csv, minus_one.csv, summary.json, whatif.png.

Everything is written to a hidden sibling directory first and renamed at the end (all or
nothing), like the plan and simulation writers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sampler.io.atomic import atomic_directory
from sampler.io.csvsafe import neutralise_frame
from sampler.model import Registry
from sim.charts import _pyplot, _style, save_figure
from sim.whatif.jobs import LevelResult
from sim.whatif.params import WhatifParams
from sim.whatif.search import MinimumResult

__all__ = ["WhatifReport", "write_whatif"]


@dataclass(frozen=True, eq=False)
class WhatifReport:
    """Everything a what-if run found."""

    area: str
    seed: int
    mode: str
    wparams: WhatifParams
    ranges: dict[str, list[float]]
    rows: list[LevelResult]
    minimum: MinimumResult | None
    minus_one: pd.DataFrame
    simulations: int
    minus_one_simulations: int
    plans: int
    pruned: int
    full_sweep_levels: int
    executor: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def simulations_saved(self) -> int:
        """Simulations a full sweep of the grid would have run, minus those run (may be negative)."""
        return self.full_sweep_levels * self.wparams.replications - self.simulations

    def levels_frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.row() for r in self.rows])

    def site_staffing(self, registry: Registry) -> pd.DataFrame:
        """Per site: registered tables, the minimum found, and its waits (empty if none found)."""
        m = self.minimum
        if m is None or m.best is None or not m.found:
            return pd.DataFrame()
        per_site = m.best.sites()
        people = dict(zip(per_site["site_id"], per_site["people"], strict=True))
        p95 = dict(zip(per_site["site_id"], per_site["wait_p95_min"], strict=True))
        util = dict(zip(per_site["site_id"], per_site["utilisation"], strict=True))
        fewer = m.fewer_at_bottleneck
        rows = []
        for i, s in enumerate(registry.sites):
            rows.append({
                "site_id": s.id, "name": s.name, "registered_tables": s.tables,
                "tables": m.best.level.tables[i], "registrars": m.best.level.registrars[i],
                "people": int(round(float(people[s.id]))),
                "wait_p95_min": round(float(p95[s.id]), 3),
                "utilisation": round(float(util[s.id]), 4),
                "bottleneck": int(s.id in m.bottlenecks[:1]),
                "one_fewer_meets_target": "" if fewer is None or fewer.level.tables[i] == m.best.level.tables[i]
                else int(fewer.meets),
            })
        return pd.DataFrame(rows)

    def summary(self, registry: Registry) -> dict[str, Any]:
        w, r = self.wparams, self.wparams.replications
        out: dict[str, Any] = {
            "area": self.area, "seed": self.seed, "mode": self.mode, "replications": r,
            "target": {"probability": w.target_prob, "max_p95_wait_min": w.max_p95_wait_min,
                       "max_share_over_limit": w.max_share_over_limit},
            "ranges": dict(self.ranges),
            "levels_evaluated": len(self.rows), "levels_skipped_capacity_short": self.pruned,
            "plans_made": self.plans,
            "simulations_run": self.simulations, "minus_one_simulations": self.minus_one_simulations,
            "full_sweep_levels": self.full_sweep_levels,
            "full_sweep_simulations": self.full_sweep_levels * r,
            "executor": self.executor, **self.extra,
        }
        if self.mode != "sweep":
            out["simulations_saved_vs_full_sweep"] = self.simulations_saved
        m = self.minimum
        if m is not None:
            best = m.best
            entry: dict[str, Any] = {"found": m.found, "reason": m.reason, "bottlenecks": m.bottlenecks[:5]}
            if best is not None:
                lv = best.level
                entry.update({
                    "staff": lv.staff, "tables": sum(lv.tables), "registrars": sum(lv.registrars),
                    "home_teams": lv.home_teams, "relief_per_site": lv.relief, "lab_tubes_per_hour": lv.lab,
                    "target_probability": round(best.probability, 4), **{
                        k: v for k, v in best.row().items()
                        if k in ("wait_p95_min", "share_wait_over_limit", "hours_to_95", "hours_to_all_who_came",
                                 "sampled_by_window_end", "unplaced_households")},
                    "tables_by_site": {s.id: t for s, t in zip(registry.sites, lv.tables, strict=True)},
                })
            fewer = m.fewer_at_bottleneck
            if fewer is not None and best is not None:
                changed = [s.id for s, a, b in zip(registry.sites, best.level.tables, fewer.level.tables, strict=True)
                           if a != b]
                entry["one_fewer_at_bottleneck"] = {
                    "site_id": changed[0] if changed else "", "staff": fewer.level.staff,
                    "target_probability": round(fewer.probability, 4),
                    "wait_p95_min": fewer.row()["wait_p95_min"], "meets_target": fewer.meets,
                }
            out["minimum"] = entry
        if not self.minus_one.empty:
            out["minus_one"] = self.minus_one.to_dict("records")
        return out


def _chart(report: WhatifReport, path: Path) -> None:
    """Staff against probability of meeting the window (left) and p95 wait (right), in Chinese
    (`sim.charts.cjk_font`; English only without a CJK font)."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    with _style() as font:
        frame = report.levels_frame().sort_values(["staff", "step"], kind="stable")
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        w = report.wparams
        zh = bool(font)
        ax.plot(frame["staff"], frame["target_probability"], "o-", color="tab:blue",
                label="按时完成的概率" if zh else "P(window met)")
        ax.axhline(w.target_prob, color="tab:blue", ls=":", lw=0.8)
        ax.set_xlabel("在岗人数（采样台人员 + 登记员 + 轮换 + 上门队）" if zh
                      else "staff on duty (table teams + registrars + relief + home-visit teams)")
        ax.set_ylabel("窗口内完成的概率" if zh else "probability of meeting the window", color="tab:blue")
        ax.set_ylim(-0.02, 1.05)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        right = ax.twinx()
        right.plot(frame["staff"], frame["wait_p95_min"], "s--", color="tab:orange",
                   label="P95 等待" if zh else "p95 wait")
        right.axhline(w.max_p95_wait_min, color="tab:orange", ls=":", lw=0.8)
        right.set_ylabel("P95 等待（分钟）" if zh else "p95 wait, minutes", color="tab:orange")
        m = report.minimum
        if m is not None and m.found and m.best is not None:
            ax.axvline(m.best.level.staff, color="tab:green", ls="--",
                       label=f"找到的最少人数：{m.best.level.staff}" if zh else f"minimum found: {m.best.level.staff}")
        ax.set_title("人员配置推演：在岗人数与按时完成的概率" if zh else "What-if staffing")
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center right")
        fig.tight_layout()
        save_figure(fig, path)


def write_whatif(report: WhatifReport, registry: Registry, directory: Path, chart: bool = True,
                 force: bool = False, inputs: list[Path] | None = None) -> None:
    """Write every output file of a what-if run to ``directory`` (an earlier what-if output there
    is replaced; ``force`` and ``inputs`` as in `sampler.io.atomic.atomic_directory`)."""
    with atomic_directory(directory, "whatif", force=force, inputs=inputs or ()) as tmp:
        for name, frame in (("whatif", report.levels_frame()), ("site_staffing", report.site_staffing(registry)),
                            ("minus_one", report.minus_one)):
            neutralise_frame(frame).to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
        (tmp / "summary.json").write_text(
            json.dumps(report.summary(registry), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if chart:
            _chart(report, tmp / "whatif.png")
