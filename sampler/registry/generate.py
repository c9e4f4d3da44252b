"""Synthetic cities: registry files that look like a real street office's, at any scale.

    city = generate_city(100_000, seed=1)     # households, buildings, sites as DataFrames
    write_city(city, Path("out"))             # households.csv, buildings.csv, sites.csv, scenario.yaml

Compounds (小区, or villages 村 with their groups 组) of buildings with units, floors and rooms are
laid out in rows over a city of realistic density; a few compounds are grouped into a grid (网格).
Households follow the 2020 census (2.62 people per household, 18.7 % aged 60+). Public sampling
sites are placed where people are (weighted k-means over buildings), one per ~2,500 people, with
one sampling table per 600–800 people of the site's catchment. About 1 % of compounds are sealed
(封控区, door to door) and 3 % controlled (管控区); half of the controlled ones get a site of
their own. Everything is vectorised: a million households take a few seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy.spatial import cKDTree

from sampler.model import SPECIAL_NEEDS, FloatArray, IntArray

__all__ = [
    "BUILDING_COLUMNS", "HOUSEHOLD_COLUMNS", "SITE_COLUMNS", "City", "CityOptions", "Population",
    "daytime_capacity", "generate_city", "lab_tubes_per_hour", "populate", "scenario_text", "write_city", "write_csv",
]


M_PER_DEG_LAT = 111_195.0
SIZE_P = np.array([0.25, 0.29, 0.21, 0.13, 0.08, 0.04])  # sizes 1..6: mean 2.62 (census 2020)
ELDERLY_P = np.array([0.35, 0.26, 0.10, 0.12, 0.20, 0.25])  # chance each member is 60+, by size
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉林宇浩然子涵欣怡梓萱俊杰思远晨阳佳琪雨婷志强海燕春梅秋菊德福")
STEM_A = list("阳锦和幸东翠金银华新春龙凤桂兰江湖天明福")
STEM_B = list("光绣平安方苑城泰景园庭湾悦府轩山水林溪河")
SUFFIXES = ("花园", "家园", "小区", "新村", "公寓", "苑", "华庭", "雅居")
GATES = ("东门", "南门", "西门", "北门", "广场", "中心")
PHONE_PREFIX = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155,
                         156, 157, 158, 159, 166, 173, 176, 177, 180, 181, 182, 183, 185, 186, 187,
                         188, 189, 191, 198, 199], dtype=np.int64)

HOUSEHOLD_COLUMNS = ("household_id", "building_id", "unit", "room", "size", "elderly", "children",
                     "contact", "phone", "needs", "preferred")
BUILDING_COLUMNS = ("building_id", "name", "grid", "compound", "lon", "lat", "risk_zone")
SITE_COLUMNS = ("site_id", "name", "lon", "lat", "tables", "rate", "open", "close", "serves", "queue_m")


@dataclass(frozen=True)
class CityOptions:
    """Knobs of the generator (all have realistic defaults).

    Attributes
    ----------
    area
        Name of the area, written to the scenario.
    lon0, lat0
        Centre of the city (WGS84).
    density
        People per km² of built-up area.
    village_share
        Share of compounds that are villages (low-rise houses, 1–3 households each).
    sealed_share, controlled_share
        Shares of compounds in 封控区 and 管控区 (at least one each from 8 compounds up).
    exclusive_share
        Share of controlled compounds with a sampling site of their own.
    people_per_site, people_per_table
        Public site density and table range (NHC 2022: 2,000–3,000 and 600–800).
    walk_radius_m
        Straight-line radius of the 15-minute walk (65 m/min ÷ detour 1.3 × 15 min).
    teams_hours, visits_per_team_hour
        Home-visit teams are sized to visit every home household in this many hours at this rate.
    kmeans_iterations
        Lloyd iterations of the site placement.
    """

    area: str = "合成市"
    lon0: float = 118.32
    lat0: float = 27.03
    density: float = 25_000.0
    village_share: float = 0.12
    sealed_share: float = 0.01
    controlled_share: float = 0.03
    exclusive_share: float = 0.5
    people_per_site: float = 2_500.0
    people_per_table: tuple[float, float] = (600.0, 800.0)
    walk_radius_m: float = 750.0
    teams_hours: float = 14.0
    visits_per_team_hour: float = 6.0
    kmeans_iterations: int = 6


@dataclass(frozen=True, eq=False)
class City:
    """A generated area: the three registry tables (English headers) and its scenario settings.

    Attributes
    ----------
    households, buildings, sites
        DataFrames with the columns of docs/formats.md, ready to write.
    teams
        Home-visit teams sized for the sealed, site-less controlled and bedridden/disabled households.
    home_households
        Households that will be visited at home.
    options
        The options it was generated with.
    """

    households: pd.DataFrame
    buildings: pd.DataFrame
    sites: pd.DataFrame
    teams: int
    home_households: int
    options: CityOptions

    @property
    def people(self) -> int:
        return int(self.households["size"].sum())

    def summary(self) -> list[tuple[str, object]]:
        """Key figures as (label, value) rows."""
        hh, b, s = self.households, self.buildings, self.sites
        zone = pd.Series(b["risk_zone"].to_numpy(), index=b["building_id"]).reindex(hh["building_id"]).to_numpy()
        public = s["serves"].isna() | (s["serves"] == "")
        return [
            ("households", len(hh)),
            ("people", self.people),
            ("buildings", len(b)),
            ("compounds", int(b["compound"].nunique())),
            ("grids", int(b["grid"].nunique())),
            ("sites (public + exclusive)", f"{int(public.sum()):,} + {int((~public).sum()):,}"),
            ("tables", int(s["tables"].sum())),
            ("sealed households (封控区)", int((zone == "sealed").sum())),
            ("controlled households (管控区)", int((zone == "controlled").sum())),
            ("home-visit households / teams", f"{self.home_households:,} / {self.teams:,}"),
            ("share aged 60+", f"{hh['elderly'].sum() / max(self.people, 1):.1%}"),
            ("mean household size", f"{hh['size'].mean():.2f}"),
        ]



def generate_city(households: int, sites: int | None = None, seed: int = 0, **options: object) -> City:
    """Generate a synthetic area of ``households`` households.

    Parameters
    ----------
    households
        Number of households (户).
    sites
        Number of public sampling sites; default one per ``people_per_site`` people.
    seed
        Seed of the numpy Generator; the same seed gives byte-identical files.
    **options
        Fields of `CityOptions`.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    opt = CityOptions(**options)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    hh_c, village = _compounds(rng, households, opt)
    cx, cy, half, grid = _layout(rng, (hh_c * float(SIZE_P @ np.arange(1, 7))).astype(np.float64), opt)
    zone_c = _risk_zones(rng, len(hh_c), opt)
    compounds = pd.DataFrame({
        "compound": _compound_names(rng, village), "grid": "第" + pd.Series(grid).astype(str) + "网格",
        "households": hh_c, "village": village, "x": cx, "y": cy, "half_x": half[:, 0], "half_y": half[:, 1],
        "zone": zone_c,
    })
    pop = populate(rng, compounds, opt)
    open_b = pop.zone == 0
    public: pd.DataFrame = _public_sites(rng, pop.xy, pop.people, open_b, pop.buildings["compound"].to_numpy(),
                                         sites, opt)
    people_c = np.bincount(pop.compound, weights=pop.people, minlength=len(compounds)).astype(np.float64)
    own: pd.DataFrame = _exclusive_sites(rng, np.flatnonzero(zone_c == 3), cx, cy, people_c,
                                         compounds["compound"].to_numpy(), opt, start=len(public))
    site_frame = pd.concat([public, own], ignore_index=True)
    teams = max(2, math.ceil(pop.home_households / (opt.visits_per_team_hour * opt.teams_hours)))
    return City(pop.households, pop.buildings, site_frame, teams, pop.home_households, opt)


@dataclass(frozen=True, eq=False)
class Population:
    """Buildings and households of some compounds, with per-building arrays for placing sites.

    Attributes
    ----------
    households, buildings
        DataFrames with the documented English columns.
    xy
        Building positions in metres from the centre (n × 2).
    people, compound, zone
        Per building: people, compound row, zone code (0 precaution, 1 controlled, 2 sealed,
        3 controlled with a site of its own).
    home_households
        Households visited at home: sealed, controlled without a site, disabled or bedridden.
    """

    households: pd.DataFrame
    buildings: pd.DataFrame
    xy: FloatArray
    people: FloatArray
    compound: IntArray
    zone: IntArray
    home_households: int


def populate(rng: np.random.Generator, compounds: pd.DataFrame, opt: CityOptions,
             prefixes: tuple[str, str] = ("H", "B")) -> Population:
    """Fill compounds with buildings and households.

    Parameters
    ----------
    compounds
        One row per compound: ``compound`` (unique name), ``grid``, ``households``, ``village``
        (bool), centre ``x``, ``y`` and half sizes ``half_x``, ``half_y`` in metres from
        (``opt.lon0``, ``opt.lat0``), and ``zone`` (0 precaution, 1 controlled, 2 sealed,
        3 controlled with its own site).
    prefixes
        Prefixes of the household and building ids.
    """
    hh_c = compounds["households"].to_numpy(dtype=np.int64)
    village = compounds["village"].to_numpy(dtype=bool)
    hh = _households(rng, int(hh_c.sum()))
    b = _buildings(rng, hh_c, village, opt)
    hh_building = np.repeat(np.arange(len(b["n_hh"])), b["n_hh"])
    people_b = np.bincount(hh_building, weights=hh["size"], minlength=len(b["n_hh"])).astype(np.float64)
    comp = b["compound"]
    bx = compounds["x"].to_numpy()[comp] + rng.uniform(-0.85, 0.85, len(comp)) * compounds["half_x"].to_numpy()[comp]
    by = compounds["y"].to_numpy()[comp] + rng.uniform(-0.85, 0.85, len(comp)) * compounds["half_y"].to_numpy()[comp]
    zone_b = compounds["zone"].to_numpy(dtype=np.int64)[comp]

    # Households' places inside their building: spread evenly over the building's rooms.
    local = np.arange(len(hh_building)) - np.repeat(np.cumsum(b["n_hh"]) - b["n_hh"], b["n_hh"])
    slot = local * b["cap"][hh_building] // b["n_hh"][hh_building]
    per_floor = b["rpf"][hh_building]
    per_unit = b["floors"][hh_building] * per_floor
    rem = slot % per_unit
    room = (rem // per_floor + 1) * 100 + rem % per_floor + 1
    in_village = village[comp][hh_building]

    b_ids = _ids(prefixes[1], len(comp))
    hh_frame = pd.DataFrame({
        "household_id": _ids(prefixes[0], len(hh_building)),
        "building_id": b_ids.to_numpy()[hh_building],
        "unit": pd.Series(slot // per_unit + 1).astype(str).where(~in_village, None),
        "room": pd.Series(room).astype(str),
        "size": hh["size"], "elderly": hh["elderly"], "children": hh["children"],
        "contact": _names(rng, len(hh_building)), "phone": _phones(rng, len(hh_building)),
        "needs": _needs_text(hh["needs"]), "preferred": hh["preferred"],
    })
    local_b = np.arange(len(comp)) - np.repeat(np.cumsum(b["per_c"]) - b["per_c"], b["per_c"])
    b_name: pd.Series = pd.Series(local_b + 1).astype(str) + np.where(village[comp], "号", "号楼")
    lon, lat = _to_lonlat(bx, by, opt)
    b_frame = pd.DataFrame({
        "building_id": b_ids, "name": b_name, "grid": compounds["grid"].to_numpy(dtype=object)[comp],
        "compound": compounds["compound"].to_numpy(dtype=object)[comp], "lon": lon, "lat": lat,
        "risk_zone": np.array(["precaution", "controlled", "sealed", "controlled"], dtype=object)[zone_b],
    })
    home_b = (zone_b == 1) | (zone_b == 2)
    home_needs = (hh["needs"] & ((1 << SPECIAL_NEEDS.index("disabled")) | (1 << SPECIAL_NEEDS.index("bedridden")))) != 0
    n_home = int((home_b[hh_building] | home_needs).sum())
    return Population(hh_frame, b_frame, np.column_stack([bx, by]), people_b, comp, zone_b, n_home)


def _ids(prefix: str, n: int) -> pd.Series:
    """``prefix`` + zero-padded running numbers from 1."""
    width = len(str(n))
    return prefix + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)


def _households(rng: np.random.Generator, n: int) -> dict[str, IntArray]:
    """Size, elderly, children, needs bits and preferred period of ``n`` households."""
    size = rng.choice(np.arange(1, 7), size=n, p=SIZE_P).astype(np.int64)
    elderly = rng.binomial(size, ELDERLY_P[size - 1]).astype(np.int64)
    children = rng.binomial(np.clip(size - elderly - 2, 0, None), 0.25).astype(np.int64)
    u = rng.random((5, n))
    bits = [
        (size == 1) & (elderly == 1),  # elderly_alone
        ((elderly > 0) & (u[0] < 0.025)) | (u[0] > 0.998),  # disabled
        (elderly > 0) & (u[1] < 0.008),  # bedridden
        (size - elderly >= 2) & (children == 0) & (u[2] < 0.015),  # pregnant
        (children > 0) & (u[3] < 0.35),  # infant
    ]
    needs = np.zeros(n, dtype=np.int64)
    for i, bit in enumerate(bits):
        needs |= bit.astype(np.int64) << i
    period = np.where(u[4] < 0.03, rng.integers(1, 4, n), 0)
    preferred = np.array([None, "morning", "afternoon", "evening"], dtype=object)[period]
    return {"size": size, "elderly": elderly, "children": children, "needs": needs, "preferred": preferred}


def _needs_text(needs: IntArray) -> npt.NDArray[np.object_]:
    """``;``-joined need names of each bit mask (blank as None)."""
    table = np.array([";".join(n for i, n in enumerate(SPECIAL_NEEDS) if m >> i & 1) or None
                      for m in range(1 << len(SPECIAL_NEEDS))], dtype=object)
    return table[needs]


def _names(rng: np.random.Generator, n: int) -> npt.NDArray[np.object_]:
    """Plausible names: a surname and a one- or two-character given name."""
    pairs = rng.choice(len(GIVEN), size=(300, 2))
    given = GIVEN + [GIVEN[a] + GIVEN[b] for a, b in pairs.tolist()]
    table = np.array([s + g for s in SURNAMES for g in given], dtype=object)
    return table[rng.integers(0, len(table), n)]


def _phones(rng: np.random.Generator, n: int) -> pd.Series:
    """11-digit mobiles ``1[3-9]\\d{9}``; about 1 % blank."""
    number = PHONE_PREFIX[rng.integers(0, len(PHONE_PREFIX), n)] * 100_000_000 + rng.integers(0, 100_000_000, n)
    return pd.Series(number).astype(str).where(rng.random(n) >= 0.01, None)


def _buildings(rng: np.random.Generator, hh_c: IntArray, village: npt.NDArray[np.bool_], opt: CityOptions) -> dict[str, IntArray]:
    """Per-compound building template (units, floors, rooms per floor) and per-building households."""
    n_c = len(hh_c)
    high = rng.random(n_c) < 0.6
    floors = np.where(village, rng.integers(2, 5, n_c),
                      np.where(high, rng.integers(11, 31, n_c), rng.integers(6, 12, n_c)))
    units = np.where(village, 1, rng.integers(1, 5, n_c))
    rpf = np.where(village, 1, rng.choice([2, 2, 2, 3, 4], n_c))
    cap = (units * floors * rpf).astype(np.int64)
    occupancy = np.where(village, rng.uniform(0.4, 0.8, n_c), rng.uniform(0.8, 0.97, n_c))
    per_c = np.ceil(hh_c / np.maximum(cap * occupancy, 1.0)).astype(np.int64)
    per_c = np.maximum(per_c, np.ceil(hh_c / cap).astype(np.int64))
    comp = np.repeat(np.arange(n_c), per_c)
    j = np.arange(len(comp)) - np.repeat(np.cumsum(per_c) - per_c, per_c)
    n_hh = (j + 1) * hh_c[comp] // per_c[comp] - j * hh_c[comp] // per_c[comp]
    return {"compound": comp, "n_hh": n_hh.astype(np.int64), "per_c": per_c, "cap": cap[comp],
            "floors": floors[comp].astype(np.int64), "rpf": rpf[comp].astype(np.int64)}


def _risk_zones(rng: np.random.Generator, n_c: int, opt: CityOptions) -> IntArray:
    """Zone code per compound: 0 precaution, 1 controlled, 2 sealed, 3 controlled with its own site."""
    floor_one = 1 if n_c >= 8 else 0
    n_sealed = max(floor_one, round(opt.sealed_share * n_c))
    n_ctrl = max(floor_one, round(opt.controlled_share * n_c))
    n_excl = math.ceil(n_ctrl * opt.exclusive_share)
    order = rng.permutation(n_c)
    zone = np.zeros(n_c, dtype=np.int64)
    zone[order[:n_sealed]] = 2
    zone[order[n_sealed:n_sealed + n_ctrl]] = 1
    zone[order[n_sealed:n_sealed + n_excl]] = 3
    return zone


def _to_lonlat(x: FloatArray, y: FloatArray, opt: CityOptions) -> tuple[FloatArray, FloatArray]:
    """WGS84 of metre offsets from the centre, rounded to 6 decimals (≈ 0.1 m)."""
    lon = opt.lon0 + x / (M_PER_DEG_LAT * math.cos(math.radians(opt.lat0)))
    lat = opt.lat0 + y / M_PER_DEG_LAT
    return np.round(lon, 6), np.round(lat, 6)


def _kmeans(rng: np.random.Generator, xy: FloatArray, weight: FloatArray, k: int, iterations: int) -> FloatArray:
    """Weighted Lloyd iterations from a weighted sample of the points (seeded)."""
    k = min(k, len(xy))
    p = weight / weight.sum() if weight.sum() > 0 else None
    centres = xy[rng.choice(len(xy), size=k, replace=False, p=p)]
    for _ in range(iterations):
        _, label = cKDTree(centres).query(xy)
        mass = np.bincount(label, weights=weight, minlength=k)
        sx = np.bincount(label, weights=weight * xy[:, 0], minlength=k)
        sy = np.bincount(label, weights=weight * xy[:, 1], minlength=k)
        moved = mass > 0
        centres[moved] = np.column_stack([sx[moved] / mass[moved], sy[moved] / mass[moved]])
    return centres


def _cover(centres: FloatArray, xy: FloatArray, radius: float) -> FloatArray:
    """Add sites (one per radius-sized cell) until every point is within ``radius`` of a site."""
    for _ in range(10):
        dist, _ = cKDTree(centres).query(xy)
        far = xy[dist > radius * 0.95]
        if not len(far):
            break
        _, first = np.unique(np.floor(far / radius).astype(np.int64), axis=0, return_index=True)
        centres = np.vstack([centres, far[np.sort(first)]])
    return centres


def _public_sites(rng: np.random.Generator, bxy: FloatArray, people_b: FloatArray, open_b: npt.NDArray[np.bool_],
                  compound_b: npt.NDArray[np.object_], sites: int | None, opt: CityOptions) -> pd.DataFrame:
    """Public sites where the people are, tables by catchment, named after the nearest compound."""
    xy, weight = bxy[open_b], people_b[open_b]
    if not len(xy):
        xy, weight = bxy, people_b
    k = sites if sites is not None else max(1, round(people_b.sum() / opt.people_per_site))
    centres = _kmeans(rng, xy.copy(), weight, k, opt.kmeans_iterations)
    if sites is None:
        centres = _cover(centres, xy, opt.walk_radius_m)
    n = len(centres)
    _, label = cKDTree(centres).query(xy)
    catchment = np.bincount(label, weights=weight, minlength=n)
    per_table = rng.uniform(*opt.people_per_table, n)
    tables = np.maximum(2, np.ceil(catchment / per_table)).astype(np.int64)
    _, near = cKDTree(xy).query(centres)
    near_compound = pd.Series(compound_b[open_b] if open_b.any() else compound_b, dtype=object)[near]
    nth = near_compound.groupby(near_compound, sort=False).cumcount().to_numpy()
    gate = pd.Series(np.array(GATES, dtype=object)[nth % len(GATES)], dtype=str)
    extra = pd.Series(nth // len(GATES) + 1).astype(str).where(nth >= len(GATES), "")
    names = near_compound.reset_index(drop=True).astype(str) + gate + extra + "采样点"
    lon, lat = _to_lonlat(centres[:, 0], centres[:, 1], opt)
    late = rng.random(n) < 0.15
    return pd.DataFrame({
        "site_id": _site_ids(0, n), "name": names, "lon": lon, "lat": lat, "tables": tables,
        "rate": pd.Series([None] * n, dtype=object),
        "open": np.where(late, "07:00", "06:00").astype(object), "close": np.where(late, "22:00", "24:00").astype(object),
        "serves": pd.Series([None] * n, dtype=object), "queue_m": rng.integers(6, 21, n) * 10,
    })


def _site_ids(start: int, n: int) -> npt.NDArray[np.object_]:
    return np.array([f"S{i:04d}" for i in range(start + 1, start + n + 1)], dtype=object)


def _exclusive_sites(rng: np.random.Generator, comps: IntArray, cx: FloatArray, cy: FloatArray, people_c: FloatArray,
                     names_c: npt.NDArray[np.object_], opt: CityOptions, start: int) -> pd.DataFrame:
    """One site inside each given controlled compound, serving only it."""
    n = len(comps)
    lon, lat = _to_lonlat(cx[comps], cy[comps], opt)
    tables = np.maximum(1, np.ceil(people_c[comps] / rng.uniform(*opt.people_per_table, n))).astype(np.int64)
    return pd.DataFrame({
        "site_id": _site_ids(start, n), "name": [f"{c}内部采样点" for c in names_c[comps]], "lon": lon, "lat": lat,
        "tables": tables, "rate": pd.Series([None] * n, dtype=object),
        "open": ["06:00"] * n, "close": ["24:00"] * n, "serves": names_c[comps], "queue_m": rng.integers(6, 21, n) * 10,
    })


def daytime_capacity(city: City, rate: float = 80.0, utilisation: float = 0.85,
                     day: tuple[int, int] = (6 * 60, 22 * 60)) -> float:
    """People all sites can sample in the daytime hours (06:00–22:00 by default) at planned utilisation."""
    s = city.sites
    def minutes(col: str) -> IntArray:
        hm = s[col].astype(str).str.split(":", expand=True).astype(int)
        return (hm[0] * 60 + hm[1]).to_numpy()
    open_m, close_m = minutes("open"), minutes("close")
    hours = np.clip(np.minimum(close_m, day[1]) - np.maximum(open_m, day[0]), 0, None) / 60
    r = pd.to_numeric(s["rate"], errors="coerce").fillna(rate).to_numpy()
    return float((s["tables"].to_numpy() * r * utilisation * hours).sum())


def write_csv(frame: pd.DataFrame, path: Path, headers: list[str] | None = None, encoding: str = "utf-8") -> None:
    """Write a table as CSV with ``\\n`` line ends, blanks for missing values and no quoting.

    The generator's values never contain commas, quotes or line breaks. ``encoding`` may be
    ``utf-8``, ``utf-8-sig`` (with BOM) or ``gb18030`` (what Excel in China saves).
    """
    header = ",".join(headers if headers is not None else [str(c) for c in frame.columns]) + "\n"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    if encoding == "utf-8":
        with open(path, "wb") as fh:
            fh.write(header.encode())
            pacsv.write_csv(table, fh, options)
        return
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, options)
    text = header + sink.getvalue().to_pybytes().decode()
    path.write_bytes(text.encode(encoding))


# Xi'an, December 2021: its labs tested 1.6 million tubes a day for 12.3 million people.
XIAN_TUBES_PER_DAY, XIAN_PEOPLE = 1_600_000, 12_300_000
DEFAULT_LAB_TUBES_PER_HOUR = 3_000  # sim.params.SimParams.lab_tubes_per_hour


def lab_tubes_per_hour(people: int) -> int:
    """Lab capacity (tubes an hour, all labs together) for a city of ``people``: Xi'an's per-person
    rate (1.6 M tubes a day for 12.3 M people ≈ 5,420 tubes an hour per million people), rounded up
    to hundreds, never below the simulator's default of 3,000 (one city lab)."""
    rate = people * XIAN_TUBES_PER_DAY / XIAN_PEOPLE / 24
    return max(DEFAULT_LAB_TUBES_PER_HOUR, 100 * math.ceil(rate / 100))


def _sim_section(city: City) -> str:
    """The sim section: labs sized for the population (see `lab_tubes_per_hour`). Couriers need no
    sizing: the simulator sends every box as it is ready. Cities small enough for the default lab
    (up to ~550,000 people) keep an empty section, so their scenario files are unchanged."""
    lab = lab_tubes_per_hour(city.people)
    if lab == DEFAULT_LAB_TUBES_PER_HOUR:
        return "sim: {}"
    return (f"# Labs sized like Xi'an's (1.6 M tubes a day for 12.3 M people) for {city.people:,} people.\n"
            f"sim: {{lab_tubes_per_hour: {lab}}}")


def scenario_text(city: City, registry: tuple[str, str, str] = ("households.csv", "buildings.csv", "sites.csv")) -> str:
    """A scenario file for the city, every section present, relative registry paths."""
    h, b, s = registry
    return f"""# Scenario generated by `sampler generate` ({len(city.households):,} households, {city.people:,} people).
area: {city.options.area}
registry: {{households: {h}, buildings: {b}, sites: {s}}}
window: {{start: "2022-11-23 06:00", hours: 24, slot_minutes: 30, night: ["22:00", "06:00"]}}
walk: {{speed_m_per_min: 65, detour_factor: 1.3, max_minutes: 15}}
capacity: {{people_per_table_hour: 80, utilisation: 0.85}}
# Teams sized so the {city.home_households:,} home-visit households fit in {city.options.teams_hours:g} daytime hours.
home_visits: {{teams: {city.teams}, visits_per_team_hour: {city.options.visits_per_team_hour:g}, needs: [disabled, bedridden]}}
pooling: {{sealed: 0, controlled: 5, precaution: 10}}
planner: {{}}
{_sim_section(city)}
"""


def write_city(city: City, outdir: Path, force: bool = False) -> None:
    """Write households.csv, buildings.csv, sites.csv (UTF-8, English headers) and scenario.yaml
    into ``outdir``, all or nothing (`sampler.io.atomic.atomic_directory`: an earlier generated
    city there is replaced, ``force`` replaces another command's output)."""
    from sampler.io.atomic import atomic_directory

    with atomic_directory(outdir, "generate", force=force) as tmp:
        write_csv(city.households[list(HOUSEHOLD_COLUMNS)], tmp / "households.csv")
        write_csv(city.buildings[list(BUILDING_COLUMNS)], tmp / "buildings.csv")
        write_csv(city.sites[list(SITE_COLUMNS)], tmp / "sites.csv")
        (tmp / "scenario.yaml").write_text(scenario_text(city), encoding="utf-8")


def _compounds(rng: np.random.Generator, households: int, opt: CityOptions) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Households per compound (summing to ``households``) and whether each is a village."""
    n_draw = max(8, int(households / 250 * 1.5) + 8)
    village = rng.random(n_draw) < opt.village_share
    size = np.where(village, rng.lognormal(math.log(220), 0.5, n_draw), rng.lognormal(math.log(420), 0.7, n_draw))
    size = np.clip(np.round(size), 30, 2_500).astype(np.int64)
    cum = np.cumsum(size)
    n = int(np.searchsorted(cum, households)) + 1
    size = size[:n].copy()
    size[-1] -= int(cum[n - 1]) - households
    return size, village[:n]


def _compound_names(rng: np.random.Generator, village: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
    """Unique compound names: 阳光花园, 锦绣家园2期, 翠溪村, 翠溪村3组."""
    stems = np.array([a + b for a in STEM_A for b in STEM_B], dtype=object)
    n = len(village)
    rnd = np.arange(n) // len(stems)
    stem = pd.Series(stems[rng.permutation(len(stems))][np.arange(n) % len(stems)], dtype=str)
    suffix = pd.Series(np.array(SUFFIXES, dtype=object)[rng.integers(0, len(SUFFIXES), n)], dtype=str)
    number = pd.Series(rnd + 1).astype(str)
    estate = stem + suffix + (number + "期").where(rnd > 0, "")
    hamlet = stem + "村" + (number + "组").where(rnd > 0, "")
    return hamlet.where(village, estate).to_numpy(dtype=object)


def _layout(rng: np.random.Generator, people_c: FloatArray, opt: CityOptions) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Compound centres (x, y metres from the city centre), half sizes (n × 2) and grid numbers.

    Compounds are strips of one row height laid side by side in rows (boustrophedon), so each
    takes its share of a square city at ``opt.density``; a grid (网格) is up to 4 neighbours in a row.
    """
    area_c = people_c / opt.density * 1e6
    height = max(math.sqrt(float(np.mean(area_c))), 80.0)
    width_c = area_c / height
    side = max(math.sqrt(float(area_c.sum())), height)
    start = np.concatenate([[0.0], np.cumsum(width_c)[:-1]])
    row = np.floor(start / side).astype(np.int64)
    x = start - row * side + width_c / 2
    x = np.where(row % 2 == 1, side - x, x) - side / 2 + rng.normal(0, 5, len(x))
    y = (row + 0.5) * height - (row.max(initial=0) + 1) * height / 2
    idx = np.arange(len(row))
    first_in_row = np.concatenate([[True], row[1:] != row[:-1]])
    pos_in_row = idx - np.maximum.accumulate(np.where(first_in_row, idx, 0))
    grid = np.cumsum(first_in_row | (pos_in_row % 4 == 0)).astype(np.int64)
    half = np.column_stack([width_c / 2, np.full(len(x), height / 2)])
    return x, y, half, grid
