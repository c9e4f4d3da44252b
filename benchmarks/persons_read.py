"""Reading a person-level roster (花名册) against reading the same area's household-level files.

    python benchmarks/persons_read.py                    # 1,000,000 residents
    python benchmarks/persons_read.py --persons 200000

A city from `sampler generate` (seed 1) is written twice under out/bench/persons-N/: as the
households/buildings/sites files (the baseline) and as a roster of one row per resident (姓名,
身份证号 with valid check digits, 与户主关系, 住址 in the three styles in turn, 小区, 联系电话, 网格) with a
compounds file. Each is read by `load_registry` in a fresh process under ``/usr/bin/time -v``;
the table gives wall seconds (the read alone, and the whole process) and peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _ids(years: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Made-up identity numbers (region 990101, born 1 March of ``years``) with valid check digits."""
    n = len(years)
    digits = np.zeros((n, 17), dtype=np.int64)
    digits[:, :6] = [9, 9, 0, 1, 0, 1]  # region 99: no such province, so no real person's number
    for k, p in enumerate((1000, 100, 10, 1)):
        digits[:, 6 + k] = years // p % 10
    digits[:, 10:14] = [0, 3, 0, 1]
    for k, p in enumerate((100, 10, 1)):
        digits[:, 14 + k] = seq // p % 10
    check = np.frombuffer(b"10X98765432", dtype=np.uint8)[(digits @ _WEIGHTS) % 11]
    chars = np.concatenate([(digits + 48).astype(np.uint8), check[:, None]], axis=1)
    return chars.view("S18").ravel().astype(str).astype(object)


def make_area(persons: int, out: Path) -> Path:
    from sampler.registry.generate import generate_city, write_city

    if (out / "persons" / "scenario.yaml").is_file():
        return out
    city = generate_city(max(int(persons / 2.62), 1), seed=1)
    write_city(city, out / "households", force=True)
    hh, b = city.households, city.buildings.set_index("building_id")
    size = hh["size"].to_numpy()
    member = np.concatenate([np.arange(s) for s in size]) if len(size) else np.zeros(0, int)
    row = np.repeat(np.arange(len(hh)), size)
    rng = np.random.default_rng(1)
    elderly, children = hh["elderly"].to_numpy()[row], hh["children"].to_numpy()[row]
    year = np.where(member < elderly, 2022 - rng.integers(60, 95, len(row)),
                    np.where(member >= size[row] - children, 2022 - rng.integers(0, 6, len(row)),
                             2022 - rng.integers(18, 60, len(row))))
    bid = hh["building_id"].to_numpy()[row]
    text = {c: pd.Series(b.loc[bid, c].fillna("").astype(str).to_numpy()) for c in ("compound", "name")}
    compound, name = text["compound"], text["name"]
    number = name.str.replace(r"\D", "", regex=True)
    unit = pd.Series(hh["unit"].fillna("").astype(str).to_numpy()[row])
    room = pd.Series(hh["room"].fillna("").astype(str).to_numpy()[row])
    style = row % 3
    has_unit = (unit != "").to_numpy()
    u_zh, u_dash = np.where(has_unit, unit + "单元", ""), np.where(has_unit, unit + "-", "")
    address = np.where(style == 0, compound + name + u_zh + room + "室",
                       np.where(style == 1, number + "栋" + u_zh + room, number + "-" + u_dash + room))
    contact = hh["contact"].astype(str).to_numpy()[row]
    roster = pd.DataFrame({
        "姓名": np.where(member == 0, contact, contact + member.astype(str)),
        "身份证号": _ids(year, member + 1),
        "与户主关系": np.where(member == 0, "户主", "家属"),
        "住址": address, "小区": np.where(style == 0, "", compound.to_numpy()),
        "联系电话": np.where(member == 0, hh["phone"].fillna("").astype(str).to_numpy()[row], ""),
        "网格": b.loc[bid, "grid"].to_numpy(),
        "特殊人群": np.where(member == 0, hh["needs"].fillna("").astype(str).to_numpy()[row], ""),
    })
    (out / "persons").mkdir(parents=True, exist_ok=True)
    roster.to_csv(out / "persons" / "persons.csv", index=False, encoding="utf-8")
    comp = city.buildings.groupby("compound", sort=False).agg(lon=("lon", "mean"), lat=("lat", "mean"),
                                                                 zone=("risk_zone", "first"), grid=("grid", "first"))
    comp.reset_index().rename(columns={"compound": "小区", "lon": "经度", "lat": "纬度", "zone": "风险区", "grid": "网格"}) \
        .to_csv(out / "persons" / "compounds.csv", index=False, encoding="utf-8")
    city.sites.to_csv(out / "persons" / "sites.csv", index=False, encoding="utf-8")
    (out / "persons" / "scenario.yaml").write_text(
        "area: 合成市\nregistry: {persons: persons.csv, compounds: compounds.csv, sites: sites.csv}\n", encoding="utf-8")
    return out


def read_once(scenario: str) -> None:
    import time

    from api.sections import register_all
    from sampler.params import load_scenario
    from sampler.registry.read import load_registry

    register_all()
    t0 = time.perf_counter()
    reg = load_registry(load_scenario(scenario))
    print(json.dumps({"read_s": time.perf_counter() - t0, "households": len(reg.households),
                      "people": reg.people, "buildings": len(reg.buildings), "warnings": len(reg.warnings)}))


def measure(scenario: Path) -> dict[str, float]:
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, "--read", str(scenario)],
                          capture_output=True, text=True, check=True)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    got["peak_mb"] = int(rss.group(1)) / 1024 if rss else float("nan")
    if wall:
        got["process_s"] = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        read_once(args.read)
        return
    out = make_area(args.persons, ROOT / "out" / "bench" / f"persons-{args.persons}")
    rows = [("households files (baseline)", out / "households" / "scenario.yaml"),
            ("person-level roster", out / "persons" / "scenario.yaml")]
    print("| input | residents | households | buildings | warnings | read s | process s | peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, scenario in rows:
        m = measure(scenario)
        print(f"| {label} | {m['people']:,} | {m['households']:,} | {m['buildings']:,} | {m['warnings']:,} | "
              f"{m['read_s']:.1f} | {m.get('process_s', float('nan')):.1f} | {m['peak_mb']:,.0f} |")


if __name__ == "__main__":
    main()
