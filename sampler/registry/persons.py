"""Person-level rosters (花名册): one row per resident, grouped into households and buildings.

    buildings, households = read_persons(persons_frame, compounds_frame, on, issues, warnings)

A street office's roster has one row per resident (姓名, 身份证号, 性别, 与户主关系, 住址, 联系电话,
网格, optionally 户号, 小区, 楼栋, 单元, 房号, 特殊人群, 备注). It becomes the same `BuildingTable` and
`HouseholdTable` the household-level files give, so planning, simulation, SMS and notices are
unchanged:

* **Address.** 小区/楼栋/单元/房号 columns are used where filled; otherwise the 住址 text is split
  (`sampler.registry.address`: 湖绣家园3号楼2单元501室, 3栋2单元501, 3-2-501) and the compound is the
  longest compound name of the compounds file found in the text before the building; an address
  without one is in the compound whose grid is the resident's 网格 (when exactly one compound has
  that grid), or in the only compound of a compounds file listing one. An address
  that names no building, or no known compound, is an issue naming its row and value.
* **Households.** Residents sharing a 户号 are one household. Without a 户号, residents at one
  address (compound, building, unit, room) are one household per 户主 (与户主关系 户主/本人), in file
  order: residents listed before an address's first 户主 join it; an address without a 户主 is one
  household. Its contact is the 户主 (or the first resident); its phone the 户主's mobile, else the
  first mobile of a member, else the 户主's cell as written (the household is then on the no-SMS
  call list, with a warning).
* **Ages.** From 身份证号 (`sampler.registry.idcard`, GB 11643; age on the window's first day), or a
  年龄 column where the number is blank or unreadable. A failed check digit or an unreadable number
  is a warning naming the row, never showing the number; the column is dropped as soon as the ages
  are known and reaches no output, database or log. elderly = members aged 60+, children = under 6.
* **Special needs.** 独居老人 for a one-person household aged 60+; 婴幼儿 when a member is under 3;
  孕产妇, 失能, 卧床 (and 独居, 婴幼儿) when 特殊人群 or 备注 mentions them (孕, 残疾, 失能, 卧床, 瘫痪, …).
* **Buildings.** One per (compound, building), named 3号楼 (or 3栋 for a letter), id
  ``<compound>-<building>``; grid from the 网格 of its first resident, else its compound's; risk zone
  and coordinates from its compound, or from a building row of the compounds file (a row with 楼栋).
  A building without a row of its own is placed on a sunflower (Vogel) spiral around the compound's
  point: the k-th building of the compound in natural order (2 before 10) at ``SPREAD_M·√k``
  metres, angle ``k·137.5°``, so buildings are about ``SPREAD_M`` apart and the same roster always
  gives the same coordinates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sampler.model import SPECIAL_NEEDS, BuildingTable, HouseholdTable
from sampler.registry.address import compound_in, natural_key, parse_addresses
from sampler.registry.idcard import parse_ids

__all__ = ["HEAD_WORDS", "NEED_WORDS", "SPREAD_M", "read_persons"]

SPREAD_M = 30.0  # metres between buildings spread around a compound's point
HEAD_WORDS = ("户主", "本人", "户主本人")
# Words of 特殊人群/备注 that set a special need (substring match), by need.
NEED_WORDS: dict[str, tuple[str, ...]] = {
    "elderly_alone": ("独居", "空巢", "elderly_alone"),
    "disabled": ("失能", "残疾", "残障", "disabled"),
    "bedridden": ("卧床", "瘫痪", "bedridden"),
    "pregnant": ("孕", "pregnant"),
    "infant": ("婴", "infant"),
}
_NONE_WORDS = {"", "无", "否", "没有", "-", "/", "none", "no"}
_M_PER_DEG = 111_320.0
_GOLDEN = np.pi * (3.0 - np.sqrt(5.0))  # 137.5° in radians


def _needs_of(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Special-need bits of each cell (substring words) and a mask of cells that named none."""
    codes, uniques = pd.factorize(text.str.lower(), sort=False)
    bits, unknown = [], []
    for u in uniques:
        mask = 0
        for i, need in enumerate(SPECIAL_NEEDS):
            if any(w in u for w in NEED_WORDS[need]):
                mask |= 1 << i
        bits.append(mask)
        unknown.append(mask == 0 and u.strip() not in _NONE_WORDS)
    if not len(codes):
        return np.zeros(0, np.int64), np.zeros(0, bool)
    return np.array(bits, dtype=np.int64)[codes], np.array(unknown, dtype=bool)[codes]


def _spiral(lon: np.ndarray, lat: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The k-th point of a sunflower spiral around (lon, lat), element by element."""
    r = SPREAD_M * np.sqrt(k.astype(np.float64))
    theta = k * _GOLDEN
    d_lat = r * np.sin(theta) / _M_PER_DEG
    d_lon = r * np.cos(theta) / (_M_PER_DEG * np.maximum(np.cos(np.radians(lat)), 1e-6))
    return lon + d_lon, lat + d_lat


def read_persons(frame: pd.DataFrame, compounds: pd.DataFrame, comp_lon: np.ndarray, comp_lat: np.ndarray,
                 comp_zone: np.ndarray, on: dt.date, issues: Any, warnings: Any,
                 checked_phones: Callable[[pd.DataFrame, Any], np.ndarray | None]) -> tuple[BuildingTable, HouseholdTable]:
    """Households and buildings of a person-level roster (module docstring).

    ``frame`` is the roster as `read_table` gives it (kind ``persons``), ``compounds`` the
    compounds file (kind ``compounds``) with its coordinates already in WGS-84 and risk-zone codes;
    issues and warnings are `sampler.registry.read._Issues` collectors. The identity-number column
    is dropped from ``frame`` here.
    """
    n = len(frame)
    given = set(frame.attrs["given"])
    if "address" not in given and "building" not in given:
        issues.items.append(_missing(frame))
        return _empty()
    # --- ages and sex, then the identity numbers are gone ---------------------------------------
    import pyarrow as pa
    import pyarrow.compute as pc

    facts = parse_ids(_arrow(frame["id_number"]), on)
    frame["id_number"] = ""  # dropped: nothing below (or after) sees a number
    hidden = pd.Series(np.full(n, "(not shown)", dtype=object))
    warnings.rows(frame, facts.malformed, "id_number",
                  "not an 18-character identity number (17 digits and a digit or X) with a valid birth date: "
                  "the age is taken from the age column if any; check the number", values=hidden)
    warnings.rows(frame, facts.bad_check, "id_number",
                  "the check digit (the 18th character) does not match the other 17 (GB 11643): the number is "
                  "mistyped; the age is still read from it — check the number", values=hidden)
    age = facts.age.copy()
    if "age" in given:
        stated = pd.to_numeric(frame["age"].where(frame["age"] != "", None), errors="coerce").to_numpy(dtype=float)
        use = (age < 0) & ~np.isnan(stated)
        age[use] = stated[use].astype(np.int64)
    # --- addresses ---------------------------------------------------------------------------------
    comp_names, comp_buildings = compounds["compound"].tolist(), compounds["building"].tolist()
    comp_grids, comp_districts = compounds["grid"].tolist(), compounds["district"].tolist()
    names = [c for c in comp_names if c]
    comp_index = {c: i for i, c in enumerate(comp_names) if c and comp_buildings[i] == ""}
    addr = frame["address"]
    codes, uniques = pd.factorize(addr, sort=False)
    pre, pb, pu, pr, _ = parse_addresses(pa.array(np.asarray(uniques, dtype=object), type=pa.string()))
    pre_codes, pre_uniques = pd.factorize(pd.Series(pre, dtype=object), sort=False)
    named = np.array([compound_in(str(p), names) or "" for p in pre_uniques], dtype=object)
    pc_ = named[pre_codes] if len(pre_codes) else np.zeros(0, dtype=object)
    if not len(codes):
        codes = np.zeros(0, dtype=np.int64)

    def cleaned(column: str, clean: Callable[[str], str]) -> np.ndarray:
        """A column with ``clean`` applied to each distinct value (a few thousand, not a million)."""
        col_codes, col_uniques = pd.factorize(frame[column], sort=False)
        mapped = np.array([clean(str(u)) for u in col_uniques], dtype=object)
        return mapped[col_codes] if len(col_codes) else np.zeros(0, dtype=object)

    def pick(own: np.ndarray, from_address: np.ndarray) -> np.ndarray:
        parsed_col = from_address[codes] if len(from_address) else np.full(n, "", dtype=object)
        return np.where(own != "", own, parsed_col)

    building = pick(cleaned("building", _label), pb)
    unit = pick(cleaned("unit", lambda u: u.removesuffix("单元")), pu)
    room = pick(cleaned("room", lambda r: r.removesuffix("室")), pr)
    compound = pick(cleaned("compound", str), pc_)
    unnamed = (compound == "") & ((pre[codes] if len(pre) else np.full(n, "", dtype=object)) == "")
    if len(comp_index) == 1:  # one compound only: every address naming none is in it
        compound = np.where(unnamed, next(iter(comp_index)), compound)
    elif unnamed.any():  # the resident's 网格 when it is the grid of exactly one compound
        grids = pd.Series(list(comp_index), dtype=object).groupby(
            [comp_grids[i] for i in comp_index.values()]).agg(list)
        of_grid = {g: c[0] for g, c in grids.items() if g and len(c) == 1}
        by_grid = cleaned("grid", lambda g: of_grid.get(g, ""))
        compound = np.where(unnamed, by_grid, compound)
    no_building = building == ""
    issues.rows(frame, no_building, "address" if "address" in given else "building",
                "write the address as compound + building + unit + room, e.g. 湖绣家园3号楼2单元501室, 3栋2单元501 or "
                "3-2-501 (or fill the 楼栋/单元/房号 columns)")
    known = np.array([c in comp_index for c in compound], dtype=bool)
    field = "compound" if "compound" in given and "address" not in given else "address"
    shown = addr.where(addr != "", frame["compound"]) if "compound" in given else addr
    issues.rows(frame, ~no_building & ~known, field,
                "no compound of the compounds file is named in this address: write the 小区/村 as the compounds "
                "file names it (or fill the 小区 column), or add the compound to the compounds file", values=shown)
    if issues.items:
        return _empty()
    # --- households ----------------------------------------------------------------------------------
    relation = frame["relation"].str.strip()
    is_head = relation.isin(HEAD_WORDS).to_numpy()
    parts = pd.DataFrame({name: pd.factorize(pd.Series(col, dtype=object), sort=False)[0]
                          for name, col in (("c", compound), ("b", building), ("u", unit), ("r", room))})
    address_key = parts.groupby(["c", "b", "u", "r"], sort=False).ngroup().to_numpy()
    has_hid = (frame["household_id"] != "").to_numpy()
    order = pd.DataFrame({"key": address_key, "head": is_head.astype(np.int64)})
    ordinal = np.maximum(order.groupby("key", sort=False)["head"].cumsum().to_numpy(), 1)
    hid_code = pd.factorize(frame["household_id"], sort=False)[0]
    group = pd.DataFrame({"h": has_hid, "k": np.where(has_hid, hid_code, address_key),
                          "o": np.where(has_hid, 0, ordinal)})
    member_of = group.groupby(["h", "k", "o"], sort=False).ngroup().to_numpy()
    keys = np.unique(member_of) if n else np.zeros(0, dtype=np.int64)
    n_hh = len(keys)
    size = np.bincount(member_of, minlength=n_hh).astype(np.int64)
    elderly = np.bincount(member_of, weights=age >= 60, minlength=n_hh).astype(np.int64)
    children = np.bincount(member_of, weights=(age >= 0) & (age < 6), minlength=n_hh).astype(np.int64)
    infants = np.bincount(member_of, weights=(age >= 0) & (age < 3), minlength=n_hh) > 0
    rows = np.arange(n)
    # the representative of each household: its first 户主, else its first member
    rank = np.where(is_head, rows, rows + n)
    rep = np.full(n_hh, 2 * n, dtype=np.int64)
    np.minimum.at(rep, member_of, rank)
    rep = np.where(rep >= n, rep - n, rep)
    needs_bits, needs_unknown = _needs_of(frame["needs"])
    notes_bits, _ = _needs_of(frame["notes"])
    warnings.rows(frame, needs_unknown, "needs",
                  "no special need recognised (孕, 失能/残疾, 卧床, 独居, 婴幼儿): the cell is ignored; use those words "
                  "or leave it blank")
    needs = np.zeros(n_hh, dtype=np.int64)
    np.bitwise_or.at(needs, member_of, needs_bits | notes_bits)
    alone = (size == 1) & (elderly == 1)
    needs |= np.where(alone, 1 << SPECIAL_NEEDS.index("elderly_alone"), 0)
    needs |= np.where(infants, 1 << SPECIAL_NEEDS.index("infant"), 0)
    # phones: the representative's mobile, else any member's, else the representative's cell as written
    phone_clean = checked_phones(frame, warnings)
    phone_arrow = _arrow(frame["phone"]) if phone_clean is None else pa.array(phone_clean, type=pa.large_string())
    mobile = pc.match_substring_regex(phone_arrow, r"^1[3-9]\d{9}$").to_numpy(zero_copy_only=False)
    first_mobile = np.full(n_hh, n, dtype=np.int64)
    np.minimum.at(first_mobile, member_of[mobile], rows[mobile])
    chosen = np.where(mobile[rep] | (first_mobile >= n), rep, np.minimum(first_mobile, max(n - 1, 0)))
    hh_phone = _taken(phone_arrow, chosen)
    no_mobile = np.zeros(n, dtype=bool)
    no_mobile[rep[first_mobile >= n]] = True
    warnings.rows(frame, no_mobile, "phone",
                  "no member of this household has a mobile number: it is on the no-SMS call list (sms_invalid.csv) "
                  "for its grid worker", values=pd.Series(np.where(frame["phone"] == "", "(blank)", "(not a mobile)"),
                                                          dtype=object))
    # --- buildings -----------------------------------------------------------------------------------
    b_comp, b_label = compound[rep], building[rep]
    b_key: pd.Series = pd.Series(b_comp, dtype=object) + "\x1f" + b_label
    b_of_hh, b_keys = pd.factorize(b_key, sort=False)
    b_compound = np.array([str(k).split("\x1f")[0] for k in b_keys], dtype=object)
    b_name = np.array([str(k).split("\x1f")[1] for k in b_keys], dtype=object)
    ordered = sorted(range(len(b_keys)), key=lambda i: (comp_index[str(b_compound[i])], natural_key(str(b_name[i]))))
    remap = np.empty(len(b_keys), dtype=np.int64)
    remap[ordered] = np.arange(len(b_keys))
    b_of_hh = remap[b_of_hh]
    b_compound, b_name = b_compound[ordered], b_name[ordered]
    nb = len(b_keys)
    own_rows = {(comp_names[i], _label(comp_buildings[i])): i for i in range(len(compounds)) if comp_buildings[i] != ""}
    c_of_b = np.array([comp_index[str(c)] for c in b_compound], dtype=np.int64)
    own = np.array([own_rows.get((str(c), str(x)), -1) for c, x in zip(b_compound, b_name, strict=True)],
                   dtype=np.int64)
    has_own = own >= 0
    at = np.where(has_own, own, c_of_b)
    zone = np.asarray(comp_zone, dtype=np.int64)[at] if nb else np.zeros(0, dtype=np.int64)
    grids_arr, districts_arr = np.array(comp_grids, dtype=object), np.array(comp_districts, dtype=object)
    grid = np.where(has_own & (grids_arr[np.maximum(own, 0)] != ""), grids_arr[np.maximum(own, 0)], grids_arr[c_of_b]) \
        if nb else np.zeros(0, dtype=object)
    district = districts_arr[c_of_b] if nb else np.zeros(0, dtype=object)
    # the k-th building (in order) of its compound without a row of its own: k = 0, 1, 2, ...
    k = pd.Series(np.where(has_own, -1, c_of_b)).groupby(np.where(has_own, -1, c_of_b)).cumcount().to_numpy() \
        if nb else np.zeros(0, np.int64)
    lon, lat = _spiral(np.asarray(comp_lon, dtype=np.float64)[c_of_b], np.asarray(comp_lat, dtype=np.float64)[c_of_b], k)
    lon = np.where(has_own, np.asarray(comp_lon, dtype=np.float64)[np.maximum(own, 0)], lon)
    lat = np.where(has_own, np.asarray(comp_lat, dtype=np.float64)[np.maximum(own, 0)], lat)
    person_grid = _taken(frame["grid"], rep)
    filled = np.flatnonzero(person_grid != "")
    if len(filled):
        first_b, first_at = np.unique(b_of_hh[filled], return_index=True)
        grid[first_b] = person_grid[filled[first_at]]
    b_id = np.array([f"{c}-{b}" for c, b in zip(b_compound, b_name, strict=True)], dtype=object)
    label = np.array([b if b.endswith("号") else f"{b}号楼" if b[:1].isdigit() else f"{b}栋" for b in b_name],
                     dtype=object)
    given_district = bool((district != "").any())
    buildings = BuildingTable(id=b_id, name=label, grid=grid, compound=b_compound, lon=lon, lat=lat, zone=zone,
                              district=district if given_district else None)
    # household ids: the 户号, else building-unit-room (-2, -3 … for further households at one address)
    made = np.array([f"{b_id[b]}-{unit[r]}-{room[r]}".rstrip("-") for b, r in zip(b_of_hh, rep, strict=True)],
                    dtype=object)
    ids = np.where(has_hid[rep], _taken(frame["household_id"], rep), made)
    dup = pd.Series(ids).groupby(ids).cumcount().to_numpy()
    ids = ids.astype(object)
    for i in np.flatnonzero(dup > 0).tolist():  # only further households at one address
        ids[i] = f"{ids[i]}~{int(dup[i]) + 1}"
    contact = _taken(frame["name"], rep)
    preferred = np.zeros(n_hh, dtype=np.int64)
    if "preferred" in given:
        from sampler.registry.read import _PERIODS, _coded

        codes_p, bad_p = _coded(frame["preferred"], _PERIODS)
        issues.rows(frame, bad_p, "preferred", "use morning/上午, afternoon/下午, evening/晚上 or leave it blank")
        preferred = codes_p[rep]
    households = HouseholdTable(
        id=ids, building=b_of_hh.astype(np.int64), unit=unit[rep].astype(object), room=room[rep].astype(object),
        size=size, elderly=elderly, children=children, contact=contact, phone=hh_phone.astype(object),
        needs=needs, preferred=preferred,
    )
    return buildings, households


def _arrow(column: pd.Series) -> Any:
    """A text column as an Arrow array (no copy when pandas holds it in Arrow)."""
    from sampler.registry.read import _arrow_text

    return _arrow_text(column)


def _taken(column: Any, rows: np.ndarray) -> np.ndarray:
    """Some rows of a text column (pandas or Arrow) as an object array, converting only those rows."""
    import pyarrow as pa

    arr = _arrow(column) if isinstance(column, pd.Series) else column
    if not len(rows):
        return np.zeros(0, dtype=object)
    return np.asarray(arr.take(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)


def _label(text: object) -> str:
    """A building as a 楼栋 cell writes it (3, 3号楼, 3栋, 3幢, 3座) as the address parser gives it (3)."""
    label = str(text).strip().upper()
    for suffix in ("号楼", "栋", "幢", "座"):
        label = label.removesuffix(suffix)
    return label


def _missing(frame: pd.DataFrame) -> Any:
    from sampler.errors import InputIssue
    from sampler.registry.headers import ALIASES

    return InputIssue(frame.attrs["file"], int(frame.attrs.get("first_row", 2)) - 1, "address", "(missing column)",
                      f"add a column headed one of: {', '.join(ALIASES['persons']['address'])} (or 楼栋, 单元, 房号 "
                      "columns); the header is looked for in the first 10 rows")


def _empty() -> tuple[BuildingTable, HouseholdTable]:
    e, s = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    return (BuildingTable(id=s, name=s, grid=s, compound=s, lon=np.zeros(0), lat=np.zeros(0), zone=e),
            HouseholdTable(id=s, building=e, unit=s, room=s, size=e, elderly=e, children=e, contact=s, phone=s,
                           needs=e, preferred=e))

