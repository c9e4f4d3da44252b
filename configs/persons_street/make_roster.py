"""Build a small person-level example: a 花名册 of about 400 residents as a street office exports it.

    .venv/bin/python configs/persons_street/make_roster.py   # rewrites the files next to this script

Three compounds and a village of 湖绣社区 (made-up names and people): a title and a notes row above
the header, addresses in the three styles (湖绣家园3号楼2单元501室, 3栋2单元501, 3-2-501) and village
houses (东风村12号), phones as Excel leaves them (some saved as 13812345678.0, a landline, blanks),
made-up identity numbers (region 99, no such province) with valid check digits (one mistyped), 孕妇 and 卧床 in 特殊人群; the compounds'
coordinates are GCJ-02 (as copied from Amap), the scenario says `crs: gcj02`. Same bytes every run.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from sampler.registry.idcard import check_char  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
COMPOUNDS = [("湖绣家园", 120.0931, 30.8915, "防范区", "第一网格", 6),
             ("翠苑小区", 120.0978, 30.8932, "管控区", "第二网格", 4),
             ("芝兰公寓", 120.0902, 30.8958, "防范区", "第二网格", 2),
             ("东风村", 120.1050, 30.9010, "防范区", "第三网格", 0)]


def main() -> None:
    rng = np.random.default_rng(7)
    rows: list[list[str]] = []
    seq = 0

    def person(relation: str, address: str, compound: str, grid: str, age_range: tuple[int, int],
               phone: str, needs: str = "") -> None:
        nonlocal seq
        seq += 1
        year = 2022 - int(rng.integers(*age_range))
        body = f"990101{year}{1 + int(rng.integers(0, 12)):02d}{1 + int(rng.integers(0, 28)):02d}{seq % 1000:03d}"
        name = SURNAMES[int(rng.integers(0, len(SURNAMES)))] + GIVEN[int(rng.integers(0, len(GIVEN)))]
        sex = "男" if int(body[16]) % 2 else "女"
        rows.append([name, body + check_char(body), sex, relation, address, phone, grid, needs, compound])

    for compound, _, _, _, grid, buildings in COMPOUNDS:
        units = (1, 2) if buildings else (None,)
        for b in range(1, (buildings or 10) + 1):
            for u in units:
                for floor in (1, 2, 3):
                    for door in ((1, 2) if buildings else (None,)):
                        style = seq % 3
                        if not buildings:
                            address, column = f"{compound}{b}号", ""
                        elif style == 0:
                            address, column = f"{compound}{b}号楼{u}单元{floor}0{door}室", ""
                        elif style == 1:
                            address, column = f"{b}栋{u}单元{floor}0{door}", compound
                        else:
                            address, column = f"{b}-{u}-{floor}0{door}", compound
                        phone = f"13{int(rng.integers(5, 10))}{int(rng.integers(0, 10**8)):08d}"
                        phone = phone + ".0" if seq % 17 == 0 else phone
                        phone = "0572-2" + phone[-6:] if seq % 41 == 0 else phone
                        size = int(rng.choice([1, 2, 2, 3, 3, 3, 4, 5]))
                        old = size == 1 and rng.random() < 0.4
                        person("户主", address, column, grid, (60, 90) if old else (28, 60), phone,
                               "卧床" if old and rng.random() < 0.2 else "")
                        for k in range(size - 1):
                            relation, ages = (("配偶", (28, 60)) if k == 0 else ("子女", (0, 18)))
                            needs = "孕妇" if relation == "配偶" and rng.random() < 0.05 else ""
                            person(relation, address, column, grid, ages, "", needs)
    rows[5][1] = rows[5][1][:-1] + ("0" if rows[5][1][-1] != "0" else "1")  # one mistyped number
    with open(HERE / "persons.csv", "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(["湖绣社区居民花名册（2022年11月）"])
        out.writerow(["填报单位：湖绣社区居委会　导出自网格化管理系统"])
        out.writerow(["姓名", "身份证号", "性别", "与户主关系", "住址", "联系电话", "网格", "特殊人群", "小区"])
        out.writerows(rows)
    with open(HERE / "compounds.csv", "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["小区", "经度", "纬度", "风险区", "网格"])
        out.writerows([[c, f"{lon:.4f}", f"{lat:.4f}", z, g] for c, lon, lat, z, g, _ in COMPOUNDS])
    with open(HERE / "sites.csv", "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["采样点编号", "采样点名称", "经度", "纬度", "采样台数", "开放时间", "关闭时间", "服务小区"])
        out.writerows([["S1", "湖绣家园东门采样点", "120.0936", "30.8921", "2", "06:00", "22:00", ""],
                       ["S2", "翠苑小区内部采样点", "120.0979", "30.8934", "1", "07:00", "21:00", "翠苑小区"],
                       ["S3", "东风村村委会采样点", "120.1046", "30.9006", "1", "07:00", "20:00", ""]])
    (HERE / "scenario.yaml").write_text("""area: 湖绣社区
registry:
  persons: persons.csv      # one row per resident; rebuilt by make_roster.py
  compounds: compounds.csv
  sites: sites.csv
  crs: gcj02                # the coordinates were copied from Amap
window: {start: "2022-11-23 06:00", hours: 24, slot_minutes: 30, night: ["22:00", "06:00"]}
home_visits: {teams: 2, needs: [disabled, bedridden]}
""", encoding="utf-8")
    print(f"{len(rows)} residents written to {HERE}")


if __name__ == "__main__":
    main()
