"""SMS lists: texts, billing segments, batched send times, bad phones, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from sampler.errors import InputError
from sampler.notify.contact import address_of, mask_phone
from sampler.notify.sms import (
    SmsParams,
    _spread,
    build_messages,
    segments,
    sms_params,
)
from sampler.planfiles.read import read_plan
from tests.api.plandir import write_plan_dir


@pytest.fixture
def plan(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The small plan read back from disk."""
    return read_plan(write_plan_dir(tmp_path / "plan"))


def test_segments_follow_chinese_billing() -> None:
    """70 characters are one message; longer texts cost ceil(n/67) parts."""
    assert [segments("字" * n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]


def test_mask_and_address() -> None:
    """Phones are masked 138****5678; addresses read 3号楼2单元501."""
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == "" and mask_phone("123") == "****"
    assert address_of("3号楼", "2", "501") == "3号楼2单元501"
    assert address_of("3号楼", "2单元", "") == "3号楼2单元"


def test_site_and_home_texts(plan) -> None:  # type: ignore[no-untyped-def]
    """Site visits name the site, slot and the resident code in one segment; home visits use the
    home template."""
    m = build_messages(plan).messages.set_index("household_id")
    code = plan.assignments.set_index("household_id").loc["H001", "code"]
    assert len(code) == 8
    assert m.loc["H001", "text"] == f"【XX街道】3号楼2单元501请于11月23日08:00-08:30到二中操场采样点采样，核酸码{code}"
    assert (m["segments"] == 1).all()
    assert "上门" in m.loc["H007", "text"] and "二中" not in m.loc["H007", "text"]
    assert (m["segments"] == [segments(t) for t in m["text"]]).all()


def test_team_placeholder_is_blank_for_site_households(plan) -> None:  # type: ignore[no-untyped-def]
    """{team} reads the (nullable) team column: its number for home visits, nothing for site households."""
    params = SmsParams(site_template="【{sign}】队{team}号", home_template="【{sign}】上门{team}队")
    m = build_messages(plan, params).messages.set_index("household_id")
    assert m.loc["H001", "text"] == "【XX街道】队号" and m.loc["H007", "text"] == "【XX街道】上门1队"


def test_evening_batch_is_the_evening_before(plan) -> None:  # type: ignore[no-untyped-def]
    """Evening sending texts everyone at 20:00 the day before their slot's day."""
    m = build_messages(plan).messages.set_index("household_id")
    assert m.loc["H001", "send_at"] == "2022-11-22 20:00"
    assert m.loc["H008", "send_at"] == "2022-11-23 20:00"


def test_hours_before_and_rate_spreading(plan) -> None:  # type: ignore[no-untyped-def]
    """'before' sends N hours ahead; per_minute spreads a batch over consecutive minutes."""
    m = build_messages(plan, SmsParams(send="before", hours_before=2, per_minute=2)).messages
    at = m.set_index("household_id")["send_at"]
    assert at["H001"] == "2022-11-23 06:00" and at["H002"] == "2022-11-23 06:00"
    assert at["H004"] == "2022-11-23 06:30"
    assert m["send_at"].value_counts().max() <= 2
    assert _spread(np.array([5, 5, 5, 5, 9]), 3).tolist() == [5, 5, 5, 6, 9]


def test_bad_phones_listed_apart(plan) -> None:  # type: ignore[no-untyped-def]
    """Missing and malformed phones go to the invalid list, not the messages; unplaced get no text."""
    result = build_messages(plan)
    assert set(result.invalid["household_id"]) == {"H003", "H005"}
    assert set(result.messages["household_id"]).isdisjoint({"H003", "H005", "H009"})
    assert result.summary()["messages"] + result.summary()["invalid_phones"] == 8


def test_bad_template_is_an_input_error() -> None:
    """An unknown placeholder or bad send mode is reported with the field and a fix."""
    with pytest.raises(InputError) as err:
        sms_params({"site_template": "{who} 请采样", "send": "noon"})
    fields = {i.field for i in err.value.issues}
    assert fields == {"sms.site_template", "sms.send"}


def test_cli_writes_both_lists(tmp_path: Path) -> None:
    """`sampler sms` writes the messages and the invalid list, same bytes on a second run."""
    plandir = write_plan_dir(tmp_path / "plan")
    runner = CliRunner()
    out = tmp_path / "sms.csv"
    r = runner.invoke(app, ["sms", str(plandir), "-o", str(out), "--sign", "幸福社区"])
    assert r.exit_code == 0, r.output
    first = out.read_bytes()
    frame = pd.read_csv(out, dtype=str)
    assert frame["text"].str.startswith("【幸福社区】").all()
    assert (tmp_path / "sms_invalid.csv").is_file()
    runner.invoke(app, ["sms", str(plandir), "-o", str(out), "--sign", "幸福社区"])
    assert out.read_bytes() == first
    bad = runner.invoke(app, ["sms", str(plandir), "-o", str(out), "--send", "noon"])
    assert bad.exit_code == 2


def test_cli_takes_the_scenario_sms_section_and_options_win(tmp_path: Path) -> None:
    """`--scenario` supplies the sms section (checked when read); a command-line option overrides
    one key; a typo in the section exits 2 naming `sms.<key>` and writes nothing."""
    plandir = write_plan_dir(tmp_path / "plan")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("sms: {sign: 幸福社区, send: before, hours_before: 1}\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "sms.csv"
    r = runner.invoke(app, ["sms", str(plandir), "-o", str(out), "--scenario", str(scenario)])
    assert r.exit_code == 0, r.output
    m = pd.read_csv(out, dtype=str).set_index("household_id")
    assert m["text"].str.startswith("【幸福社区】").all()
    assert m.loc["H001", "send_at"] == "2022-11-23 07:00"  # one hour before its 08:00 slot
    r = runner.invoke(app, ["sms", str(plandir), "-o", str(out), "--scenario", str(scenario), "--sign", "和平社区"])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out, dtype=str)["text"].str.startswith("【和平社区】").all()
    scenario.write_text("sms: {sigature: 幸福社区}\n", encoding="utf-8")
    out.unlink()
    r = runner.invoke(app, ["sms", str(plandir), "-o", str(out), "--scenario", str(scenario)],
                      env={"COLUMNS": "3000"})
    assert r.exit_code == 2 and "sms.sigature" in r.output and not out.exists()


DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo_street"


def test_demo_texts_fit_one_segment_even_in_the_worst_case(tmp_path: Path) -> None:
    """Every default text of the demo street is one 70-character segment, and so is the worst case
    the demo could produce: its longest address with its longest site name, a two-digit month and
    day and a slot past 10:00."""
    from sampler.notify.contact import addresses
    from sampler.notify.templating import environment, render, template
    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.planfiles.write import write_plan
    from sampler.registry.read import load_registry

    scenario = load_scenario(DEMO / "scenario.yaml")
    write_plan(make_plan(scenario, load_registry(scenario)), tmp_path / "plan", xlsx=False)
    plan = read_plan(tmp_path / "plan")
    m = build_messages(plan).messages
    assert len(m) > 10_000 and (m["segments"] == 1).all() and m["text"].str.len().max() <= 70
    a = plan.assignments
    names = plan.buildings.drop_duplicates("building_id").set_index("building_id")["name"]
    longest_address = max(addresses(a["building_id"].map(names), a["unit"], a["room"]), key=len)
    longest_site = max(plan.sites["name"], key=len)
    env = environment(None)
    values = {"sign": scenario.area, "area": scenario.area, "address": longest_address, "date": "12月31日",
              "start": "23:30", "end": "24:00", "site": longest_site, "team": "12", "code": "ABCDEFGH"}
    for name in ("sms_site.txt.j2", "sms_home.txt.j2"):
        text = render(template(env, name), values).strip()
        assert segments(text) == 1, (len(text), text)


def test_call_list_is_chinese_with_a_bom_and_neutralised(tmp_path: Path) -> None:
    """sms_invalid.csv (the grid workers' call list) has a BOM, Chinese headers with 网格 and 小区
    first, Chinese problems, and no cell that a spreadsheet would run as a formula."""
    plandir = write_plan_dir(tmp_path / "plan")
    contacts = pd.read_csv(plandir / "contacts.csv", dtype=str, keep_default_na=False)
    contacts.loc[contacts["household_id"] == "H003", "contact"] = "=HYPERLINK(\"http://x\")"
    contacts.to_csv(plandir / "contacts.csv", index=False)
    r = CliRunner().invoke(app, ["sms", str(plandir), "-o", str(tmp_path / "sms.csv")])
    assert r.exit_code == 0, r.output
    raw = (tmp_path / "sms_invalid.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and (tmp_path / "sms.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    calls = pd.read_csv(tmp_path / "sms_invalid.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(calls.columns) == ["网格", "小区", "地址", "户主", "登记电话", "问题", "采样时间", "采样地点",
                                   "户编号", "楼栋编号"]
    assert set(calls["小区"]) == {"幸福小区"} and set(calls["网格"]) == {"G1"}
    assert set(calls["问题"]) <= {"未登记电话", "号码无效"} and len(calls) == 2
    assert not calls.map(lambda v: v[:1] in ("=", "+", "-", "@")).any().any()
