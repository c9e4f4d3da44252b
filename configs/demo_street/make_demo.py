"""Build the demo street, 芝山街道 of 建瓯市, modelled on the street plan in seeds/001.

    .venv/bin/python configs/demo_street/make_demo.py      # rewrites the files next to this script

Nine residential committees and villages (村/居), each with the sampling site the plan names
(街道社区卫生服务中心, 二中, 芝城医院, 实验幼儿园, 芝山小学, 第一中学初中部, 西大村村部, 豪栋村村部,
马汶组活动中心), about 11,000 households. One compound is a controlled zone (管控区) with a tenth
site of its own; one is sealed (封控区) and sampled door to door. Community and compound names other
than those in the plan are illustrative. The registry files are saved the way planners' offices
save them: households.csv with Chinese headers in GB18030 (Excel in China), buildings.csv and
sites.csv with Chinese headers in UTF-8 with BOM. Deterministic: the seed is fixed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sampler.registry.generate import (
    BUILDING_COLUMNS,
    HOUSEHOLD_COLUMNS,
    SITE_COLUMNS,
    City,
    CityOptions,
    daytime_capacity,
    populate,
    write_csv,
)

SEED = 20221123
HERE = Path(__file__).resolve().parent
OPTIONS = CityOptions(area="芝山街道", lon0=118.3215, lat0=27.0385)
URBAN_DENSITY = 25_000.0  # people per km² inside a residential compound
VILLAGE_DENSITY = 5_000.0  # people per km² in a village group (组)
PEOPLE_PER_TABLE = 650  # NHC: one table per 600–800 people
CONTROLLED = "芝城花园"  # 管控区, with its own site
SEALED = "紫芝苑"  # 封控区, door to door

# (村/居, site, site x, y in metres from the street centre, opening hours, queue metres,
#  [(compound, households), ...]); villages (村) list their groups (组).
COMMUNITIES: list[tuple[str, str, float, float, tuple[str, str], int, list[tuple[str, int]]]] = [
    ("芝山社区", "芝山街道社区卫生服务中心采样点", 0, 0, ("06:00", "24:00"), 120,
     [("芝山花园", 380), ("府前小区", 310), ("鼓楼公寓", 260), ("建安新村", 330), ("芝华苑", 240)]),
    ("紫芝社区", "二中操场采样点", 950, 150, ("06:00", "24:00"), 200,
     [(SEALED, 290), ("紫芝新村", 360), ("二中宿舍区", 220), ("东岳小区", 330), ("通济家园", 300)]),
    ("芝城社区", "芝城医院采样点", -950, 50, ("06:00", "24:00"), 80,
     [(CONTROLLED, 420), ("芝城新村", 330), ("水西小区", 280), ("医院宿舍区", 190), ("西门公寓", 260)]),
    ("五一社区", "实验幼儿园采样点", 0, 950, ("06:00", "24:00"), 100,
     [("五一新村", 400), ("中山花园", 330), ("南雅小区", 270), ("钟楼家园", 260), ("建州苑", 180)]),
    ("黄华山社区", "芝山小学操场采样点", 950, 1000, ("06:00", "24:00"), 180,
     [("黄华山庄", 360), ("芝山小学宿舍区", 170), ("黄华新村", 330), ("东门花园", 300), ("龙津苑", 240)]),
    ("北津社区", "第一中学初中部采样点", -950, 1000, ("06:00", "24:00"), 200,
     [("北津新村", 380), ("一中宿舍区", 200), ("北苑小区", 320), ("建溪花园", 290), ("瓯宁家园", 250)]),
    ("西大村", "西大村村部采样点", -800, -1150, ("07:00", "22:00"), 150,
     [("西大村一组", 180), ("西大村二组", 160), ("西大村三组", 150), ("西大村四组", 170), ("西大村五组", 140)]),
    ("豪栋村", "豪栋村村部采样点", 650, -1150, ("07:00", "22:00"), 150,
     [("豪栋村一组", 190), ("豪栋村二组", 170), ("豪栋村三组", 160), ("豪栋村四组", 150)]),
    ("丰乐村", "马汶组活动中心采样点", 2000, -250, ("07:00", "22:00"), 120,
     [("马汶组", 220), ("上坊组", 180), ("下坊组", 170), ("溪头组", 150)]),
]
RING_M = 380.0  # compounds sit around their community's site at about this distance

HOUSEHOLD_HEADERS = ["户编号", "楼栋编号", "单元", "房号", "人数", "60岁以上人数", "6岁以下人数", "户主",
                     "联系电话", "特殊人群", "意向时段"]
BUILDING_HEADERS = ["楼栋编号", "楼栋名称", "网格", "小区/村", "经度", "纬度", "风险区"]
SITE_HEADERS = ["采样点编号", "采样点名称", "经度", "纬度", "采样台数", "每台每小时人数", "开放时间", "关闭时间",
                "服务小区", "排队长度米"]
NEEDS_ZH = {"elderly_alone": "独居老人", "disabled": "失能", "bedridden": "卧床", "pregnant": "孕产妇", "infant": "婴幼儿"}
PERIOD_ZH = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}
ZONE_ZH = {"precaution": "防范区", "controlled": "管控区", "sealed": "封控区"}
GRID_NUMERALS = "一二三四五"


def compounds_table(rng: np.random.Generator) -> pd.DataFrame:
    """Compounds around each community's site, two or three per grid (网格)."""
    rows = []
    for community, _, sx, sy, _, _, members in COMMUNITIES:
        village = community.endswith("村")
        angle0 = rng.uniform(0, 2 * math.pi)
        for k, (name, households) in enumerate(members):
            angle = angle0 + 2 * math.pi * k / len(members)
            radius = RING_M * (0.6 if village else 1.0) * rng.uniform(0.55, 1.0)
            area = households * 2.62 / (VILLAGE_DENSITY if village else URBAN_DENSITY) * 1e6
            half = math.sqrt(area) / 2
            zone = {CONTROLLED: 3, SEALED: 2}.get(name, 0)
            rows.append((name, f"{community}第{GRID_NUMERALS[k // 2]}网格", households, village,
                         sx + radius * math.cos(angle), sy + radius * math.sin(angle), half, half, zone))
    return pd.DataFrame(rows, columns=["compound", "grid", "households", "village", "x", "y", "half_x", "half_y", "zone"])


def sites_table(compounds: pd.DataFrame, xy: np.ndarray, people: np.ndarray, zone: np.ndarray) -> pd.DataFrame:
    """The nine named sites, tables by nearest-site catchment, plus the controlled compound's own site."""
    sxy = np.array([(c[2], c[3]) for c in COMMUNITIES], dtype=float)
    open_b = zone == 0
    nearest = np.argmin(np.hypot(*(xy[open_b, None, :] - sxy[None, :, :]).transpose(2, 0, 1)), axis=1)
    catchment = np.bincount(nearest, weights=people[open_b], minlength=len(sxy))
    own = compounds[compounds["zone"] == 3].iloc[0]
    own_people = float(people[zone == 3].sum())
    xs = [*sxy[:, 0], float(own["x"])]
    ys = [*sxy[:, 1], float(own["y"])]
    lon = np.round(OPTIONS.lon0 + np.array(xs) / (111_195.0 * math.cos(math.radians(OPTIONS.lat0))), 6)
    lat = np.round(OPTIONS.lat0 + np.array(ys) / 111_195.0, 6)
    tables = [max(2, math.ceil(p / PEOPLE_PER_TABLE)) for p in catchment] + [max(1, math.ceil(own_people / PEOPLE_PER_TABLE))]
    return pd.DataFrame({
        "site_id": [f"ZS{i:02d}" for i in range(1, len(xs) + 1)],
        "name": [c[1] for c in COMMUNITIES] + [f"{CONTROLLED}内部采样点"],
        "lon": lon, "lat": lat, "tables": tables, "rate": [None] * len(xs),
        "open": [c[4][0] for c in COMMUNITIES] + ["06:00"], "close": [c[4][1] for c in COMMUNITIES] + ["24:00"],
        "serves": [None] * len(COMMUNITIES) + [CONTROLLED],
        "queue_m": [c[5] for c in COMMUNITIES] + [60],
    })


def to_chinese(hh: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Needs, periods and zones written the way a grid worker would type them."""
    hh = hh.copy()
    needs = hh["needs"].fillna("")
    for en, zh in NEEDS_ZH.items():
        needs = needs.str.replace(en, zh, regex=False)
    hh["needs"] = needs.str.replace(";", "、", regex=False).replace("", None)
    hh["preferred"] = hh["preferred"].map(PERIOD_ZH)
    b = b.copy()
    b["risk_zone"] = b["risk_zone"].map(ZONE_ZH)
    return hh, b


SCENARIO = """\
# 芝山街道 (建瓯市) demo street: nine 村/居 with the sampling sites named in the street's plan
# (seeds/001), {households:,} households, {people:,} people. Generated by make_demo.py (seed {seed}).
area: 芝山街道

# Registry files, relative to this file. households.csv is GB18030 (as Excel in China saves it);
# buildings.csv and sites.csv are UTF-8 with BOM. Headers are the Chinese aliases of docs/formats.md.
registry:
  households: households.csv
  buildings: buildings.csv
  sites: sites.csv

# The sampling window: 24 hours from 06:00 (national target), called down in 30-minute slots.
# Night hours are used only if the day cannot hold everyone.
window:
  start: "2022-11-23 06:00"
  hours: 24
  slot_minutes: 30
  night: ["22:00", "06:00"]

# Walking: 65 m/min allows for elderly people and children; streets are 1.3 × the straight line;
# the 15-minute sampling circle (15分钟采样圈) is the limit.
walk:
  speed_m_per_min: 65
  detour_factor: 1.3
  max_minutes: 15

# Each table (采样台) swabs about 80 people an hour (Dongguan 2021: ≈ 82); plan at 85 % of that so
# queues stay short. The {tables} tables give {capacity:,} people of daytime (06:00–22:00) capacity
# for the {site_people:,} people who walk to a site.
capacity:
  people_per_table_hour: 80
  utilisation: 0.85

# Door-to-door teams for the sealed compound ({sealed}, 封控区) and the disabled and bedridden:
# {home:,} households; {teams} teams at 6 households an hour finish in about {home_hours:.0f} hours.
home_visits:
  teams: {teams}
  visits_per_team_hour: 6
  needs: [disabled, bedridden]

# Swabs per tube: 封控区 one tube per household, 管控区 5-in-1, 防范区 10-in-1.
pooling:
  sealed: 0
  controlled: 5
  precaution: 10

# Assignment weights (person-minutes of walking); the defaults are documented in sampler/params.py.
planner:
  candidate_sites: 6
  seed: 0

# Building notices (sampler notices --scenario): who signs them, the hotline and each grid's
# worker (names and numbers are made up for the demo); the date defaults to the day before the window.
notices:
  issuer: 芝山街道新冠肺炎疫情防控指挥部
  hotline: 0599-3822345
  grid_workers:
{grid_workers}
# The simulator's section: defaults (see docs/sim.md).
sim: {{}}
"""

_WORKERS = ("王芳", "李娜", "张敏", "刘洋", "陈静", "杨丽", "赵军", "黄秀英", "周杰", "吴霞", "徐斌", "孙燕", "马超",
            "朱琳", "胡波", "郭红", "何平", "林涛", "罗艳", "高峰", "郑丹", "梁勇", "谢婷", "宋刚", "唐慧", "许亮")


def grid_workers(grids: list[str]) -> str:
    """The scenario's notices.grid_workers lines: a made-up worker and office number per grid."""
    return "".join(f"    {g}: {_WORKERS[i % len(_WORKERS)]} 0599-38{22100 + i + 1}\n" for i, g in enumerate(grids))


def main(outdir: Path = HERE) -> None:
    """Write households.csv, buildings.csv, sites.csv and scenario.yaml into ``outdir``."""
    rng = np.random.default_rng(SEED)
    compounds = compounds_table(rng)
    pop = populate(rng, compounds, OPTIONS, prefixes=("ZS", "ZSB"))
    sites = sites_table(compounds, pop.xy, pop.people, pop.zone)
    hh, b = to_chinese(pop.households, pop.buildings)
    outdir.mkdir(parents=True, exist_ok=True)
    write_csv(hh[list(HOUSEHOLD_COLUMNS)], outdir / "households.csv", HOUSEHOLD_HEADERS, "gb18030")
    write_csv(b[list(BUILDING_COLUMNS)], outdir / "buildings.csv", BUILDING_HEADERS, "utf-8-sig")
    write_csv(sites[list(SITE_COLUMNS)], outdir / "sites.csv", SITE_HEADERS, "utf-8-sig")
    teams = max(2, math.ceil(pop.home_households / (6 * 10)))
    sealed_buildings = pop.buildings["building_id"][pop.zone == 2]
    home = pop.households["building_id"].isin(sealed_buildings) | pop.households["needs"].fillna("").str.contains(
        "disabled|bedridden")
    site_people = int(pop.households["size"][~home].sum())
    capacity = daytime_capacity(City(pop.households, pop.buildings, sites, teams, pop.home_households, OPTIONS))
    (outdir / "scenario.yaml").write_text(SCENARIO.format(
        households=len(hh), people=int(hh["size"].sum()), seed=SEED, tables=int(sites["tables"].sum()),
        capacity=int(capacity), site_people=site_people, sealed=SEALED,
        home=pop.home_households, teams=teams, home_hours=pop.home_households / (6 * teams),
        grid_workers=grid_workers(list(dict.fromkeys(pop.buildings["grid"].astype(str)))),
    ), encoding="utf-8")


if __name__ == "__main__":
    main()
