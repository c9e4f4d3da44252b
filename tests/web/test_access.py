"""Accessibility and the phones the pages meet: labels on every field, the main buttons reachable by
keyboard with a visible focus, text contrast ≥ 4.5:1 computed from the stylesheet itself, the
resident page in WeChat's in-app browser at 360 px, and the site page's camera scan (a fallback
message where the browser has no BarcodeDetector; a scan with a stand-in detector checks in)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from api.web import STATIC
from tests.api.conftest import PLANNER_KEY
from tests.web.conftest import Live
from tests.web.test_pages import _accessible, _key, _shot

# WeChat 8 on Android (the X5/XWeb in-app browser identifies itself with MicroMessenger)
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 12; V2134A Build/SP1A.210812.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5169 MMWEBSDK/20230303 "
             "MMWEBID/6060 MicroMessenger/8.0.34.2340(0x2800225B) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")

LABELS_JS = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((e) => e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
  .map((e) => e.id || e.outerHTML.slice(0, 60))"""
FOCUS_JS = """() => { const e = document.activeElement;
  return [e.id || e.textContent.trim().slice(0, 12), e.tagName, getComputedStyle(e).outlineStyle]; }"""


# ---------- contrast, from app.css ----------

def _hex(value: str) -> tuple[float, float, float] | None:
    m = re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", value.strip())
    if not m:
        return None
    h = m.group(1)
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _colours(*values: str) -> list[tuple[float, float, float]]:
    out = [_hex(v) for v in values]
    assert all(c is not None for c in out), values
    return [c for c in out if c is not None]


def _luminance(rgb: tuple[float, float, float]) -> float:
    def f(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)
    r, g, b = rgb
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = _luminance(a), _luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every plain rule, custom properties resolved; @media bodies included."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@media[^{]*\{((?:[^{}]*\{[^{}]*\})*)\s*\}", r"\1", css)
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = {}
        for part in body.split(";"):
            name, sep, value = part.partition(":")
            if sep:
                decls[name.strip()] = value.strip()
        found.append((" ".join(selector.split()), decls))
    variables = {k: v for sel, d in found if sel == ":root" for k, v in d.items() if k.startswith("--")}

    def resolve(v: str) -> str:
        return re.sub(r"var\((--[\w-]+)\)", lambda m: variables.get(m.group(1), m.group(0)), v)

    return [(sel, {k: resolve(v) for k, v in d.items()}) for sel, d in found if sel != ":root"]


def text_pairs(css: str) -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets a text colour or a background.

    A rule with both is one pair. A rule with a colour only sits on the background of the rule
    its selector descends from (``header.top a`` on ``header.top``), else on every page background
    (the body's, the cards', the table heads'); one whose variants set their own backgrounds
    (``.pill`` for ``.pill.畅通``) is checked through them. A rule with a background only takes the
    colour of the rule its selector extends, else the body's text colour. Disabled controls are
    exempt (WCAG 1.4.3), and so is the camera's video (no text).
    """
    rules = [(one.strip(), d) for sel, d in _rules(css) for one in sel.split(",")]
    colour = {sel: d["color"] for sel, d in rules if _hex(d.get("color", ""))}
    ground = {sel: d.get("background") or d.get("background-color") or "" for sel, d in rules}
    ground = {k: v for k, v in ground.items() if _hex(v)}
    body = next(d for sel, d in rules if sel == "body")
    grounds = [body["background"], ground[".card"], ground["th"]]
    pairs = []
    for sel, _d in rules:
        if ":disabled" in sel or sel.startswith("video"):
            continue
        fg, bg = colour.get(sel), ground.get(sel)
        if fg and bg:
            pairs.append((sel, fg, bg))
        elif fg:
            if any(o.startswith(sel) and o != sel for o in ground):
                continue  # its variants carry the background, and are checked below
            words = sel.split()
            ancestors = [" ".join(words[:i]) for i in range(len(words) - 1, 0, -1) if " ".join(words[:i]) in ground]
            pairs += [(sel, fg, ground[ancestors[0]])] if ancestors else [(sel, fg, g) for g in grounds]
        elif bg:
            parents = [o for o in colour if sel.startswith(o) and o != sel]
            pairs.append((sel, colour[max(parents, key=len)] if parents else body["color"], bg))
    return pairs


def test_text_colours_in_the_stylesheet_have_contrast_of_at_least_4_5() -> None:
    """Every colour pair the stylesheet sets (text on its background) reaches WCAG AA (4.5:1)."""
    pairs = text_pairs((STATIC / "app.css").read_text(encoding="utf-8"))
    assert len(pairs) >= 20  # the check sees the buttons, tabs, messages, pills, header, table heads
    ratios = [(s, f, b, round(contrast(*_colours(f, b)), 2)) for s, f, b in pairs]
    assert [r for r in ratios if r[3] < 4.5] == []
    assert round(contrast((0x4A, 0x4A, 0x4A), (0xF5, 0xF6, 0xF8)), 1) == 8.2  # the checker itself: --muted on --bg


# ---------- labels and keyboard ----------

def _tab_through(page: Any, presses: int) -> list[list[str]]:
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUS_JS))
    return seen


def _reached(seen: list[list[str]], *wanted: str) -> None:
    names = [s[0] for s in seen]
    missing = [w for w in wanted if w not in names]
    assert missing == [], names
    assert [s for s in seen if s[1] in ("INPUT", "BUTTON", "SELECT", "A", "TEXTAREA") and s[2] == "none"] == []


def test_console_labels_and_keyboard_reach_the_main_buttons(live: Live, desktop: Any) -> None:
    """Every field of every tab is labelled; Tab reaches sign-in, upload, publish, simulate, what-if and
    the day's buttons, the arrow keys move between tabs, and each focus shows a ring."""
    page = desktop.new_page()
    page.goto(live.url + "/")
    _reached(_tab_through(page, 6), "key", "登录")
    page.focus("#key")
    page.keyboard.type(PLANNER_KEY)
    page.keyboard.press("Enter")
    page.wait_for_selector("#app:not([hidden])")
    assert page.evaluate(LABELS_JS) == []
    page.focus("#t-scenarios")
    _reached(_tab_through(page, 12), "u-name", "u-households", "上传并校验")
    page.focus("#t-scenarios")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "t-plans" and page.is_visible("#tab-plans")
    _reached(_tab_through(page, 20), "plan", "publish", "unpublish", "短信名单（CSV）", "sim-reps", "simulate",
             "wi-axis", "wi-range", "whatif-run")
    page.focus("#t-plans")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "t-day"
    page.wait_for_selector("#missed table")
    _reached(_tab_through(page, 24), "day-plan", "day-reload", "missed-xlsx", "fc-reps", "rp-at", "rp-lead", "rp-close")
    assert page.evaluate(LABELS_JS) == []


@pytest.mark.parametrize(("path", "wanted"), [("/r", ("code", "last4", "查询")), ("/site", ("key", "登录")),
                                              ("/grid", ("key", "plan", "登录"))])
def test_staff_and_resident_pages_reach_their_buttons_by_keyboard(live: Live, desktop: Any, path: str,
                                                                   wanted: tuple[str, ...]) -> None:
    page = desktop.new_page()
    page.goto(live.url + path)
    assert page.evaluate(LABELS_JS) == []
    _reached(_tab_through(page, 8), *wanted)


# ---------- the resident page in WeChat at 360 px ----------

def test_resident_page_in_wechat_at_360_px(live: Live, browser: Any) -> None:
    """WeChat's in-app browser on a 360 px Android phone: nothing wider than the screen, fields at
    16 px or more (no zoom on focus), tap targets of 44 px, and the lookup works."""
    ctx = browser.new_context(user_agent=WECHAT_UA, viewport={"width": 360, "height": 740}, device_scale_factor=3,
                              is_mobile=True, has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai",
                              bypass_csp=True)
    try:
        page = ctx.new_page()
        page.goto(f"{live.url}/r?code={live.codes['H004']}")
        assert "MicroMessenger" in page.evaluate("navigator.userAgent")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        sizes = page.evaluate("""() => [...document.querySelectorAll('input, button')].filter((e) => e.offsetParent).map((e) => {
          const r = e.getBoundingClientRect(); return [e.id || e.textContent, r.left, r.right, r.height,
          parseFloat(getComputedStyle(e).fontSize)]; })""")
        for name, left, right, height, font in sizes:
            assert left >= 0 and right <= 360 and height >= 44 and font >= 16, (name, left, right, height, font)
        _accessible(page)
        page.tap("#last4")
        page.keyboard.type("0004")
        page.tap("button[type=submit]")
        page.wait_for_selector("#answer:not([hidden])")
        assert page.text_content("#a-site") == "二中操场采样点"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        _accessible(page)
        _shot(page, "resident-wechat")
    finally:
        ctx.close()


# ---------- the site page's camera scan ----------

def _site_page(live: Live, ctx: Any, init: str) -> Any:
    ctx.add_init_script(init)
    page = ctx.new_page()
    page.goto(f"{live.url}/site?plan={live.plan_id}")
    page.fill("#key", _key(live, "site", sites=["S1"]))
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_function("document.querySelector('#schedule table')")
    return page


def test_site_page_without_barcode_detector_says_so_and_typing_works(live: Live, phone: Any) -> None:
    """No BarcodeDetector (WeChat on iOS, Firefox, desktop Chromium): no scan button, a note, typing checks in."""
    page = _site_page(live, phone, "delete window.BarcodeDetector;")
    assert page.is_hidden("#scan")
    assert "不支持扫码" in (page.text_content("#scan-note") or "") and page.is_visible("#scan-note")
    page.fill("#code", live.codes["H002"])
    page.press("#code", "Enter")
    page.wait_for_function("document.querySelector('#sampled').textContent === '2'")
    _accessible(page)


def test_site_page_scan_checks_a_household_in(live: Live, phone: Any) -> None:
    """With a stand-in BarcodeDetector that reads the resident link off a fake camera, a scan checks in."""
    link = f"{live.url}/r?code={live.codes['H001']}"
    fake = """
      window.BarcodeDetector = class {
        constructor(opts) { this.formats = (opts && opts.formats) || []; }
        static async getSupportedFormats() { return ["qr_code", "code_128"]; }
        async detect(source) { return source && source.readyState >= 2 ? [{ rawValue: LINK, format: "qr_code" }] : []; }
      };
      navigator.mediaDevices.getUserMedia = async () => {
        const c = document.createElement("canvas"); c.width = 64; c.height = 64;
        const g = c.getContext("2d"); setInterval(() => { g.fillStyle = "#" + Math.floor(Math.random() * 4096).toString(16).padStart(3, "0"); g.fillRect(0, 0, 64, 64); }, 50);
        return c.captureStream(10);
      };
    """.replace("LINK", json.dumps(link))
    page = _site_page(live, phone, fake)
    assert page.is_visible("#scan") and page.is_hidden("#scan-note")
    before = page.text_content("#sampled")
    page.click("#scan")
    page.wait_for_function("document.querySelector('#checkin-msg').textContent.includes('已登记')")
    assert live.codes["H001"] in (page.text_content("#checkin-msg") or "")
    page.wait_for_function(f"document.querySelector('#sampled').textContent === '{int(before or 0) + 3}'")
    assert page.is_hidden("#camera")  # the camera stops after a scan
    assert page.text_content("#queued") == "0"
