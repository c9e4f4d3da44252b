"""Accepted column headers of the registry files (and of the staffing and staff files read the same
way), English and Chinese, per canonical field."""

from __future__ import annotations

__all__ = ["ALIASES", "REQUIRED", "canonical_name"]

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "households": {
        "household_id": ("household_id", "household", "户编号", "户号", "家庭编号", "户籍编号"),
        "building_id": ("building_id", "building", "楼栋", "楼栋编号", "楼号"),
        "unit": ("unit", "单元", "单元号"),
        "room": ("room", "房号", "门牌号", "房间号"),
        "size": ("size", "people", "人数", "家庭人数", "户内人数"),
        "elderly": ("elderly", "aged_60_plus", "老人数", "60岁以上人数", "老年人数"),
        "children": ("children", "under_6", "儿童数", "6岁以下人数", "婴幼儿数"),
        "contact": ("contact", "head", "户主", "联系人", "户主姓名"),
        "phone": ("phone", "mobile", "联系电话", "手机号", "手机号码", "电话"),
        "needs": ("needs", "special_needs", "特殊人群", "特殊需求"),
        "preferred": ("preferred", "preferred_period", "意向时段", "偏好时段"),
    },
    "buildings": {
        "building_id": ("building_id", "building", "楼栋编号", "楼栋", "楼号"),
        "name": ("name", "building_name", "address", "楼栋名称", "地址", "楼栋地址"),
        "grid": ("grid", "网格", "网格名称"),
        "compound": ("compound", "小区", "小区/村", "村/小区", "小区名称", "村"),
        "lon": ("lon", "lng", "longitude", "经度"),
        "lat": ("lat", "latitude", "纬度"),
        "risk_zone": ("risk_zone", "zone", "风险区", "风险等级", "区域类型"),
        "district": ("district", "street", "subdistrict", "街道", "所属街道", "街道名称", "镇街", "乡镇街道", "乡镇/街道"),
    },
    "sites": {
        "site_id": ("site_id", "site", "采样点编号", "编号"),
        "name": ("name", "site_name", "采样点名称", "名称", "采样点"),
        "lon": ("lon", "lng", "longitude", "经度"),
        "lat": ("lat", "latitude", "纬度"),
        "tables": ("tables", "采样台数", "采样台", "台数"),
        "rate": ("rate", "people_per_table_hour", "每台每小时人数", "每台每小时"),
        "open": ("open", "opens", "开放时间", "开始时间"),
        "close": ("close", "closes", "关闭时间", "结束时间"),
        "serves": ("serves", "serves_compounds", "服务小区", "专用小区"),
        "queue_m": ("queue_m", "queue_length_m", "排队长度米", "排队长度", "排队长度(米)"),
    },
    # one row per resident: the 花名册 of a grid-management system (`registry.persons`)
    "persons": {
        "name": ("name", "姓名", "居民姓名", "名字"),
        "id_number": ("id_number", "id_card", "身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码"),
        "sex": ("sex", "gender", "性别"),
        "age": ("age", "年龄"),
        "relation": ("relation", "与户主关系", "与户主的关系", "关系", "家庭关系"),
        "address": ("address", "住址", "地址", "现住址", "居住地址", "家庭住址", "详细地址"),
        "phone": ("phone", "mobile", "联系电话", "手机号", "手机号码", "电话", "联系方式"),
        "grid": ("grid", "网格", "所属网格", "网格名称"),
        "household_id": ("household_id", "户号", "户编号", "家庭编号"),
        "compound": ("compound", "小区", "小区/村", "村/小区", "小区名称", "村", "所属小区"),
        "building": ("building", "楼栋", "楼号", "楼栋号", "幢"),
        "unit": ("unit", "单元", "单元号"),
        "room": ("room", "房号", "门牌号", "房间号", "室"),
        "needs": ("needs", "special_needs", "特殊人群", "特殊人群类别", "人员类别"),
        "notes": ("notes", "remark", "备注", "说明"),
        "preferred": ("preferred", "preferred_period", "意向时段", "偏好时段"),
    },
    # compounds (小区/村) locating the buildings of a person-level roster (`registry.compounds`)
    "compounds": {
        "compound": ("compound", "name", "小区", "小区/村", "村/小区", "小区名称", "村", "名称"),
        "lon": ("lon", "lng", "longitude", "经度"),
        "lat": ("lat", "latitude", "纬度"),
        "risk_zone": ("risk_zone", "zone", "风险区", "风险等级", "区域类型"),
        "grid": ("grid", "网格", "网格名称"),
        "building": ("building", "楼栋", "楼号"),
        "district": ("district", "street", "街道", "所属街道", "镇街"),
    },
    # check-ins exported by a sampling system (`sampler checkins import`, forecast, replan)
    "checkins": {
        "id": ("id", "checkin_id", "记录编号", "采样记录编号", "流水号"),
        "code": ("code", "resident_code", "核酸码", "采样码", "居民码"),
        "household_id": ("household_id", "household", "户编号", "户号"),
        "phone": ("phone", "mobile", "联系电话", "手机号", "手机号码"),
        "site_id": ("site_id", "site", "采样点编号", "采样点"),
        "at": ("at", "time", "sampled_at", "采样时间", "时间"),
        "people": ("people", "人数", "采样人数"),
        "tube": ("tube", "tube_id", "试管编号", "管码", "试管条码"),
    },
    # base staffing of a what-if run (`sampler whatif --staffing FILE`)
    "staffing": {
        "site_id": ("site_id", "site", "采样点编号", "编号"),
        "tables": ("tables", "采样台数", "采样台", "台数"),
        "registrars": ("registrars", "登记员", "登记人员", "登记员人数"),
    },
    # people who can work in PPE (`sampler roster --staff FILE`)
    "staff": {
        "staff_id": ("staff_id", "id", "工号", "人员编号", "编号"),
        "name": ("name", "姓名", "名字"),
        "role": ("role", "岗位", "角色"),
        "site_id": ("site_id", "site", "采样点编号", "采样点"),
        "earliest": ("earliest", "最早开始", "最早到岗"),
        "latest": ("latest", "最晚结束", "最晚离岗"),
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "households": ("household_id", "building_id", "size"),
    "buildings": ("building_id", "lon", "lat"),
    "sites": ("site_id", "name", "lon", "lat", "tables"),
    "staffing": ("site_id", "tables"),
    "staff": ("staff_id",),
    "checkins": ("site_id", "at"),
    "persons": (),  # an address, or building columns: checked by the persons reader
    "compounds": ("compound", "lon", "lat"),
}


def _norm(header: str) -> str:
    return header.replace("\ufeff", "").strip().lower().replace(" ", "").replace("（", "(").replace("）", ")")


_LOOKUP: dict[str, dict[str, str]] = {
    kind: {_norm(alias): field for field, aliases in fields.items() for alias in aliases}
    for kind, fields in ALIASES.items()
}


def canonical_name(kind: str, header: str) -> str | None:
    """The canonical field a user's header stands for, or None if it is not one we read."""
    return _LOOKUP[kind].get(_norm(header))
