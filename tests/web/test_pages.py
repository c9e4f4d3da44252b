"""The web console end to end in Debian's Chromium: one test per page's main flow, against a real
`sampler serve`. Set SAMPLER_SCREENSHOTS=docs/screenshots to refresh the screenshots in docs/."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PLANNER_KEY
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv
from tests.web.conftest import Live

SHOTS = os.environ.get("SAMPLER_SCREENSHOTS", "")

# Every form control has a label (its own <label>, or aria-label); every visible text has a
# contrast ratio of at least 4.5:1 against the first opaque background behind it (WCAG AA).
A11Y_JS = r"""
() => {
  const unlabeled = [...document.querySelectorAll("input, select, textarea")]
    .filter((e) => e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
    .map((e) => e.id || e.outerHTML.slice(0, 60));
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                      if (c.length === 3 || c[3] > 0.9) return c.slice(0, 3); } return [255, 255, 255]; };
  const low = [];
  for (const e of document.querySelectorAll("body *")) {
    if (!e.offsetParent && e.tagName !== "BODY") continue;
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || getComputedStyle(e).visibility === "hidden") continue;
    const a = lum(rgb(getComputedStyle(e).color).slice(0, 3)), b = lum(bg(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${e.tagName}:${e.textContent.trim().slice(0, 20)}:${ratio.toFixed(2)}`);
  }
  return { unlabeled, low };
}
"""


def _accessible(page: Any) -> None:
    got = page.evaluate(A11Y_JS)
    assert got == {"unlabeled": [], "low": []}


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _key(live: Live, role: str, **scope: list[str]) -> str:
    r = httpx.post(f"{live.url}/api/v1/keys", headers={"X-API-Key": PLANNER_KEY},
                   json={"role": role, "name": f"{role} test", **scope})
    r.raise_for_status()
    return str(r.json()["key"])


def test_serve_prints_its_address_and_serves_pages_docs_and_vendored_files(live: Live) -> None:
    """`sampler serve` says where it listens; pages, /docs and the chart library come from the package."""
    assert live.url + "/" in live.banner
    for path in ("/", "/r", "/site", "/grid"):
        r = httpx.get(live.url + path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert '<html lang="zh-CN">' in r.text and "http" not in re.sub(r'href="/[^"]*"|src="/[^"]*"', "", r.text).split(
            "<body", 1)[0].replace('content="width=device-width, initial-scale=1"', "")
    docs = httpx.get(live.url + "/docs").text
    assert "/static/vendor/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert httpx.get(live.url + "/static/vendor/echarts.min.js").status_code == 200
    assert httpx.get(live.url + "/redoc").status_code == 404


def test_resident_finds_their_slot(live: Live, phone: Any) -> None:
    """/r?code=… fills the code; code + last 4 digits give site, time and instruction; mismatches read alike."""
    page = phone.new_page()
    code = live.codes["H001"]
    page.goto(f"{live.url}/r?code={code}")
    assert page.input_value("#code") == code
    _accessible(page)
    page.fill("#last4", "5678")
    page.click("button[type=submit]")
    page.wait_for_selector("#answer:not([hidden])")
    assert page.text_content("#a-site") == "二中操场采样点"
    assert "3号楼" in (page.text_content("#a-address") or "")
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日 \d\d:\d\d–\d\d:\d\d", page.text_content("#a-time") or "")
    assert "身份证" in (page.text_content("#a-instruction") or "")
    page.wait_for_selector("#a-status:not([hidden])")
    assert page.text_content("#a-pill") in ("畅通", "忙碌", "拥堵", "未开放")
    _shot(page, "resident")
    messages = []
    wrong = [(code, "0000"), ("NOPE2345", "5678"), (live.codes["H003"], "0000")]  # wrong phone, no code, no phone
    for typed, last4 in wrong:
        page.fill("#code", typed)
        page.fill("#last4", last4)
        page.click("button[type=submit]")
        page.wait_for_function("document.querySelector('#msg').textContent.includes('未查到')")
        assert page.is_hidden("#answer")
        messages.append(page.text_content("#msg"))
    assert len(set(messages)) == 1


def test_site_lead_checks_in_by_code_and_while_offline(live: Live, phone: Any) -> None:
    """A typed code is sent at once; offline check-ins wait in localStorage and are sent, once, when back."""
    page = phone.new_page()
    page.goto(f"{live.url}/site?plan={live.plan_id}")
    page.wait_for_function("navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller || true)")
    _accessible(page)
    page.fill("#key", _key(live, "site", sites=["S1"]))
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_function("document.querySelector('#schedule table')")
    assert "3号楼" in (page.text_content("#schedule") or "")
    assert page.input_value("#site") == "S1"
    page.fill("#code", live.codes["H001"])
    page.press("#code", "Enter")
    page.wait_for_function("document.querySelector('#sampled').textContent === '3'")
    assert page.text_content("#queued") == "0"

    phone.set_offline(True)
    page.fill("#code", live.codes["H002"].lower())
    page.click("#checkin button[type=submit]")
    page.wait_for_function("document.querySelector('#net').textContent.startsWith('离线')")
    assert page.text_content("#queued") == "1"
    queued = page.evaluate("JSON.parse(localStorage.getItem('sampler.site.queue'))")
    assert len(queued) == 1 and queued[0]["code"] == live.codes["H002"] and len(queued[0]["id"]) == 36
    _shot(page, "site")
    page.reload()  # the page itself opens offline too (service worker), the queue survives the reload
    page.wait_for_selector("#app:not([hidden])")
    assert page.text_content("#queued") == "1"
    phone.set_offline(False)
    page.wait_for_function("document.querySelector('#queued').textContent === '0'", timeout=20_000)
    page.wait_for_function("document.querySelector('#sampled').textContent === '5'", timeout=40_000)
    # The same id re-sent (a retry after a lost answer) is a duplicate, not a second check-in.
    again = httpx.post(f"{live.url}/api/v1/plans/{live.plan_id}/checkins", headers={"X-API-Key": PLANNER_KEY},
                       json={"checkins": [{k: v for k, v in queued[0].items() if k != "plan"}]}).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    status = httpx.get(f"{live.url}/api/v1/plans/{live.plan_id}/status?by=site",
                       headers={"X-API-Key": PLANNER_KEY}).json()
    s1 = next(r for r in status["data"] if r["key"] == "S1")
    assert (s1["sampled_households"], s1["sampled_people"]) == (2, 5)


def test_grid_worker_records_an_outcome(live: Live, phone: Any) -> None:
    """The grid's missed households with tap-to-call links; an outcome that closes one takes it off."""
    page = phone.new_page()
    page.goto(f"{live.url}/grid?plan={live.plan_id}")
    _accessible(page)
    page.fill("#key", _key(live, "grid", grids=["G1"]))
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    row = page.locator('li[data-household="H004"]')
    assert row.locator("a.tel").get_attribute("href") == "tel:15012340004"
    assert page.locator("li[data-household]").count() >= 1
    assert page.locator('li[data-household="H001"]').count() == 0  # checked in by the site test
    _accessible(page)
    _shot(page, "grid")
    row.locator("select").select_option("away")
    row.locator("input").fill("外出务工")
    row.get_by_role("button", name="记录").click()
    page.wait_for_function("document.querySelector('#msg').textContent.startsWith('已记录')")
    assert page.locator('li[data-household="H004"]').count() == 0
    missed = httpx.get(f"{live.url}/api/v1/plans/{live.plan_id}/missed?grace_min=30",
                       headers={"X-API-Key": PLANNER_KEY}).json()
    assert "H004" not in {m["household_id"] for m in missed["data"]}


def _files(page: Any, households: bytes) -> None:
    for role, data in (("households", households), ("buildings", buildings_csv()), ("sites", sites_csv())):
        page.set_input_files(f"#u-{role}", {"name": f"{role}.csv", "mimeType": "text/csv", "buffer": data})


def test_planner_uploads_plans_publishes_and_downloads_sms(live: Live, desktop: Any) -> None:
    """A registry with an error shows file/row/field/value/fix; the fixed one plans, publishes, simulates, exports."""
    page = desktop.new_page()
    page.goto(live.url + "/")
    _accessible(page)
    page.fill("#key", PLANNER_KEY)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    with page.expect_download() as template:  # the blank 花名册 to fill in
        page.click("#templates a >> nth=0")
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(Path(template.value.path()).read_bytes())).active
    assert sheet.title == "人员花名册" and sheet.cell(1, 1).value == "姓名"
    bad = households_csv().replace(b"H004,B2,1,", b"H004,B9,1,")  # a building that is not in the buildings file
    _files(page, bad)
    page.fill("#u-params", PARAMETERS)
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#issues table")
    headers = page.locator("#issues th").all_text_contents()
    assert headers == ["文件", "行", "字段", "值", "如何修改"]
    cells = page.locator("#issues tbody tr").first.locator("td").all_text_contents()
    assert cells[0] == "households.csv" and cells[1] == "6" and cells[3] == "B9" and cells[4]  # the row Excel shows (header = 1)
    _shot(page, "console-upload-error")
    _files(page, households_csv())
    page.click("#upload button[type=submit]")
    page.wait_for_function("document.querySelector('#upload-msg').textContent.includes('已保存')")
    assert page.locator("#issues table").count() == 0
    page.locator("#scenarios button", has_text="生成方案").first.click()
    page.wait_for_selector("#tab-plans:not([hidden])", timeout=120_000)
    page.wait_for_selector("#summary table")
    assert "30" in (page.text_content("#summary") or "")
    page.click("#publish")
    page.wait_for_function("document.querySelector('#plan-msg').textContent.includes('已发布')")
    page.wait_for_function("echarts.getInstanceByDom(document.getElementById('map'))"
                           "?.getOption().series[1].data.length === 2")
    assert page.evaluate("echarts.getInstanceByDom(document.getElementById('map')).getOption().series[0].data.length") == 3
    page.wait_for_function("echarts.getInstanceByDom(document.getElementById('curve'))?.getOption()?.series?.[0]?.data?.length > 0")
    page.fill("#sim-reps", "2")
    page.click("#simulate")
    page.wait_for_function("document.querySelector('#sim-msg').textContent.startsWith('仿真完成')", timeout=180_000)
    page.wait_for_function("echarts.getInstanceByDom(document.getElementById('sim'))?.getOption()?.series?.length >= 3")
    assert "2 次重复" in (page.text_content("#sim-summary") or "")
    # queues and waits per site from sites.csv: p50 and p95 wait, longest queue; minutes by status
    page.wait_for_function(f"{_OPTION('sim-sites')}?.series?.length === 3")
    assert page.evaluate(f"{_OPTION('sim-sites')}.xAxis[0].data") == ["二中操场", "社区服务中心"]
    assert page.evaluate(f"{_OPTION('sim-status')}.series.map((s) => s.name)") == ["畅通", "忙碌", "拥堵"]
    _shot(page, "console-plan")
    # what-if: a 2-level sweep of the table share, charted as staff against P(window) and p95 wait
    page.select_option("#wi-axis", "tables")
    page.fill("#wi-range", "1,2")
    page.select_option("#wi-mode", "sweep")
    page.fill("#wi-reps", "2")
    page.click("#whatif-run")
    page.wait_for_function("document.querySelector('#whatif-msg').textContent.startsWith('测算完成')", timeout=240_000)
    page.wait_for_function(f"{_OPTION('whatif')}?.series?.[0]?.data?.length === 2")
    assert page.evaluate(f"{_OPTION('whatif')}.series.map((s) => s.name)") == ["按时完成概率（%）", "等待P95（分钟）"]
    staff = page.evaluate(f"{_OPTION('whatif')}.xAxis[0].data")
    assert len(staff) == 2 and staff[0] < staff[1]
    assert "逐档全部试算" in (page.text_content("#whatif-summary") or "")
    page.fill("#wi-range", "9:1")
    page.click("#whatif-run")
    page.wait_for_function("document.querySelector('#whatif-msg').textContent.startsWith('参数有误')")
    _accessible(page)
    _shot(page, "console-whatif")
    with page.expect_download() as info:
        page.click("[data-export='sms.csv']")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + 27  # 30 households, every 10th without a phone
    assert any("13800000000" in ",".join(r) for r in rows[1:])
    page.click("#t-day")
    page.wait_for_selector("#missed table")
    # coverage by grid over time (the plan's 12-hour window is over: every half hour of it)
    page.wait_for_function(f"{_OPTION('grid-curve')}?.series?.length > 0")
    assert page.evaluate(f"{_OPTION('grid-curve')}.series[0].data.length") == 25
    _accessible(page)
    _day_features(live, page)
    _shot(page, "console-day")


def _OPTION(chart_id: str) -> str:  # noqa: N802 - reads like the constant it stands for
    return f"echarts.getInstanceByDom(document.getElementById('{chart_id}'))?.getOption()"


def _day_features(live: Live, page: Any) -> None:
    """Forecast and re-plan: where the service has the endpoint the panel runs a job against it and
    draws its answer; where it has none the panel says 功能未启用 and its button is disabled."""
    paths = httpx.get(f"{live.url}/openapi.json").json()["paths"]
    for path, button, msg in (("/api/v1/plans/{plan_id}/forecasts", "#forecast-run", "#forecast-msg"),
                              ("/api/v1/plans/{plan_id}/replan", "#replan-run", "#replan-msg")):
        if path in paths:
            continue
        page.wait_for_function(f"document.querySelector('{msg}').textContent.startsWith('功能未启用')")
        assert page.is_disabled(button)
    if "/api/v1/plans/{plan_id}/forecasts" in paths:
        page.fill("#fc-reps", "2")
        page.click("#forecast-run")
        page.wait_for_function("document.querySelector('#forecast-msg').textContent.startsWith('预测完成')",
                               timeout=180_000)
        assert "2 次重复" in (page.text_content("#forecast-msg") or "")
        # one row per site of the plan, named as the sites file names them
        names = page.locator("#forecast-sites tbody tr td:first-child").all_text_contents()
        assert sorted(names) == ["二中操场", "社区服务中心"]
        headers = page.locator("#forecast-sites th").all_text_contents()
        assert headers[0] == "采样点" and "时限内完成概率" in headers
        assert page.locator("#forecast-late p").count() == 1
    if "/api/v1/plans/{plan_id}/replan" in paths:
        # close 社区服务中心 from 10:00 (China time, as typed) with a 30-minute lead: a child plan
        page.fill("#rp-at", "2022-11-23T10:00")
        page.select_option("#rp-close", "S2")
        page.click("#replan-run")
        page.wait_for_function("document.querySelector('#replan-msg').textContent.startsWith('已生成调整方案')",
                               timeout=180_000)
        child = int(re.search(r"#(\d+)", page.text_content("#replan-msg") or "").group(1))  # type: ignore[union-attr]
        plan = httpx.get(f"{live.url}/api/v1/plans/{child}", headers={"X-API-Key": PLANNER_KEY}).json()
        block = plan["summary"]["replan"]
        assert block["closed_sites"] == ["S2"] and block["at"] == "2022-11-23 10:00" and plan["parent_id"] < child
        page.fill("#rp-tables", "S1=x")
        page.click("#replan-run")
        page.wait_for_function("document.querySelector('#replan-msg').textContent.includes('S1=4')")


@pytest.mark.parametrize("path", ["/", "/r", "/site", "/grid"])
def test_keyboard_reaches_the_first_field(live: Live, desktop: Any, path: str) -> None:
    """Tab from the top of each page lands on a form field or link, and it shows a focus ring."""
    page = desktop.new_page()
    page.goto(live.url + path)
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.tagName, getComputedStyle(document.activeElement).outlineStyle]")
    assert focused[0] in ("INPUT", "A", "BUTTON") and focused[1] != "none"


def test_pages_run_under_their_csp(live: Live, browser: Any) -> None:
    """With the Content-Security-Policy enforced, every page renders and logs no CSP violation."""
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        for path, ready in (("/r", "#code"), ("/site", "#signin, #code"), ("/grid", "#signin, #missed"), ("/", "body")):
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            response = page.goto(f"{live.url}{path}")
            assert response is not None and "script-src 'self'" in (response.headers.get("content-security-policy") or "")
            page.wait_for_selector(ready, state="attached")
            page.wait_for_load_state("networkidle")
            assert not [e for e in errors if "Content Security Policy" in e], (path, errors)
            page.close()
    finally:
        ctx.close()


def test_planner_uploads_a_person_level_roster(live: Live, desktop: Any, tmp_path: Path) -> None:
    """The upload card's second way: 人员花名册 + 小区表 (+ 采样点表); the household inputs are hidden
    and not sent; the roster is saved with its households counted."""
    from tests.api.test_persons_upload import PARAMETERS as ROSTER_PARAMETERS
    from tests.api.test_persons_upload import ROWS
    from tests.sampler.test_persons import write_roster

    write_roster(tmp_path, ROWS, crs="gcj02")
    page = desktop.new_page()
    page.goto(live.url + "/")
    page.fill("#key", PLANNER_KEY)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    assert page.is_visible("#u-households") and not page.is_visible("#u-persons")
    page.check("input[name=u-kind][value=persons]")
    assert page.is_visible("#u-persons") and page.is_visible("#u-compounds") and not page.is_visible("#u-households")
    _accessible(page)
    for role in ("persons", "compounds", "sites"):
        page.set_input_files(f"#u-{role}", str(tmp_path / f"{role}.csv"))
    page.fill("#u-params", ROSTER_PARAMETERS)
    page.click("#upload button[type=submit]")  # the hidden households inputs are not required
    page.wait_for_function("document.querySelector('#upload-msg').textContent.includes('已保存')")
    message = page.text_content("#upload-msg") or ""
    from sampler.params import load_scenario
    from sampler.registry.read import load_registry

    households = len(load_registry(load_scenario(tmp_path / "scenario.yaml")).households)
    assert f"{households} 户、{len(ROWS)} 人" in message and "2 个采样点" in message
    assert page.locator("#issues table").count() == 0
