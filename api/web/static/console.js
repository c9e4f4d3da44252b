/* Planner console: scenarios (upload + validation table), plans (summary, map, heat map, coverage
   curve, publish, exports), the live day (coverage by grid, sites behind, missed list), keys. */
"use strict";
const TILE_SETTING = "sampler.console.tiles";
const charts = {};
let plans = [];
let siteNames = {};  // site id -> name, of the plan shown

function chart(id) {
  if (!window.echarts) return null;
  charts[id] = charts[id] || echarts.init(document.getElementById(id), null, { renderer: "canvas" });
  return charts[id];
}
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

/* Tabs (arrow keys move between them, as the ARIA tabs pattern says). */
const tabs = [...document.querySelectorAll('[role="tab"]')];
function openTab(t) {
  for (const x of tabs) { const on = x === t; x.setAttribute("aria-selected", String(on)); x.tabIndex = on ? 0 : -1;
    document.getElementById(x.getAttribute("aria-controls")).hidden = !on; }
  t.focus();
  if (t.id === "t-plans") showPlan(); else if (t.id === "t-day") { loadDay(); checkDayFeatures(); } else if (t.id === "t-keys") loadKeys();
  Object.values(charts).forEach((c) => c.resize());
}
tabs.forEach((t, i) => {
  t.addEventListener("click", () => openTab(t));
  t.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") openTab(tabs[(i + 1) % tabs.length]);
    if (e.key === "ArrowLeft") openTab(tabs[(i + tabs.length - 1) % tabs.length]);
  });
});

/* ---------- Scenarios ---------- */
const ISSUE_COLUMNS = [["file", "文件"], ["row", "行"], ["field", "字段"], ["value", "值"], ["fix", "如何修改"]];
/* Two kinds of registry: households + buildings (one row per household) or a person-level roster
   (花名册) + compounds; the other kind's inputs are hidden, disabled and not sent. */
const UPLOAD_ROLES = { households: ["households", "buildings", "sites"], persons: ["persons", "compounds", "sites"] };
const uploadKind = () => document.querySelector("input[name=u-kind]:checked").value;
function showUploadKind() {
  const persons = uploadKind() === "persons";
  $("#u-household-files").hidden = persons;
  $("#u-person-files").hidden = !persons;
  for (const role of ["households", "buildings"]) { $("#u-" + role).disabled = persons; $("#u-" + role).required = !persons; }
  for (const role of ["persons", "compounds"]) { $("#u-" + role).disabled = !persons; $("#u-" + role).required = persons; }
}
document.querySelectorAll("input[name=u-kind]").forEach((r) => r.addEventListener("change", showUploadKind));
showUploadKind();
$("#upload").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const fd = new FormData();
  fd.append("name", $("#u-name").value);
  for (const role of UPLOAD_ROLES[uploadKind()]) fd.append(role, $("#u-" + role).files[0]);
  if ($("#u-scenario").files[0]) fd.append("scenario", $("#u-scenario").files[0]);
  if ($("#u-params").value.trim()) fd.append("parameters", $("#u-params").value);
  $("#issues").textContent = "";
  show("#upload-msg", "info", "正在上传并校验……");
  try {
    const s = await api("/scenarios", { method: "POST", body: fd });
    show("#upload-msg", "ok", `场景 #${s.id} 已保存：${s.households} 户、${s.people} 人、${s.buildings} 栋楼、${s.sites} 个采样点。`);
    loadScenarios();
  } catch (e) {
    if (e instanceof ApiError && e.status === 422 && Array.isArray(e.detail)) {
      show("#upload-msg", "bad", `校验未通过，共 ${e.detail.length} 处问题，请按下表修改后重新上传（未保存任何内容）。`);
      $("#issues").append(table(ISSUE_COLUMNS, e.detail.map((d) => ({ ...d, value: d.value ?? "", row: d.row ?? "" }))));
    } else show("#upload-msg", "bad", errorText(e));
  }
});

async function loadScenarios() {
  const r = await api("/scenarios?limit=100");
  const box = $("#scenarios"); box.textContent = "";
  const t = table([["id", "编号"], ["name", "名称"], ["area", "地区"], ["households", "户数"], ["people", "人数"],
                   ["sites", "采样点"], [(s) => new Date(s.created_at).toLocaleString("zh-CN"), "上传时间"], [() => "", "操作"]], r.data);
  [...t.tBodies[0].rows].forEach((tr, i) => tr.lastChild.append(
    el("button", { type: "button", text: "生成方案", "aria-label": `为场景 ${r.data[i].id} 生成方案`, onclick: () => makePlan(r.data[i].id) })));
  box.append(t);
}

async function makePlan(scenarioId) {
  try {
    let job = await api("/plans", { method: "POST", body: { scenario_id: scenarioId } });
    while (job.status === "queued" || job.status === "running") {
      show("#job-msg", "info", `正在生成方案（任务 #${job.id}：${job.stage} ${Math.round(job.progress * 100)}%）……`);
      await new Promise((r) => setTimeout(r, 700));
      job = await api(`/jobs/${job.id}`);
    }
    if (job.status === "failed") { show("#job-msg", "bad", `方案生成失败：${job.error}`); return; }
    show("#job-msg", "ok", `方案 #${job.plan_id} 已生成。`);
    await loadPlans(job.plan_id);
    openTab($("#t-plans"));
  } catch (e) { show("#job-msg", "bad", errorText(e)); }
}

/* ---------- Plans ---------- */
async function loadPlans(select) {
  const r = await api("/plans?limit=100");
  plans = r.data;
  for (const id of ["#plan", "#day-plan"]) {
    const sel = $(id), keep = select ? String(select) : sel.value;
    sel.textContent = "";
    for (const p of plans) sel.append(el("option", { value: p.id, text: `#${p.id} ${p.area} · ${p.households} 户${p.published ? " · 已发布" : ""}` }));
    if (keep && plans.some((p) => String(p.id) === keep)) sel.value = keep;
  }
}
function currentPlan() { return plans.find((p) => String(p.id) === $("#plan").value); }

const SUMMARY = [["households", "户数"], ["people", "人数"], ["placed_households", "已安排户数"], ["site_households", "到点采样户数"],
  ["home_households", "上门采样户数"], ["unplaced_households", "未安排户数"], ["over_max_walk_households", "超步行上限户数"],
  ["sites", "采样点"], ["tables", "采样台"], ["capacity_people", "总容量（人）"], ["gap", "与下界差距"]];
async function showPlan() {
  const p = currentPlan(); const box = $("#summary"); box.textContent = "";
  if (!p) { box.textContent = "还没有方案：请先在“场景”中上传并生成。"; return; }
  const s = p.summary;
  const rows = SUMMARY.filter(([k]) => s[k] !== undefined).map(([k, h]) => ({ h, v: k === "gap" ? (s[k] * 100).toFixed(2) + "%" : s[k] }));
  if (s.walk_minutes) rows.push({ h: "步行时间（平均 / P95，分钟）", v: `${(+s.walk_minutes.mean).toFixed(1)} / ${(+s.walk_minutes.p95).toFixed(1)}` });
  if (s.window) rows.push({ h: "采样窗口", v: `${s.window.start} 起 ${windowHours(s.window)} 小时，每时段 ${s.window.slot_minutes} 分钟` });
  rows.push({ h: "状态", v: p.published ? "已发布（居民可查询）" : "未发布" });
  box.append(table([["h", "项目"], ["v", "数值"]], rows));
  drawPlanCharts(p).catch((e) => show("#plan-msg", "bad", errorText(e)));
}
$("#plan").addEventListener("change", showPlan);

async function publish(on) {
  const p = currentPlan(); if (!p) return;
  try { await api(`/plans/${p.id}/publish?published=${on}`, { method: "POST" });
        show("#plan-msg", "ok", on ? `方案 #${p.id} 已发布，居民现在可以查询。` : `方案 #${p.id} 已撤回。`);
        await loadPlans(p.id); showPlan(); }
  catch (e) { show("#plan-msg", "bad", errorText(e)); }
}
$("#publish").addEventListener("click", () => publish(true));
$("#unpublish").addEventListener("click", () => publish(false));

/* Downloads go through fetch (the key is a header, never in a URL), then a blob link. */
async function download(path, name, msg) {
  try {
    const r = await api(path, { raw: true });
    const url = URL.createObjectURL(await r.blob());
    const a = el("a", { href: url, download: name }); document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    show(msg, "ok", `已下载 ${name}`);
  } catch (e) { show(msg, "bad", errorText(e)); }
}
document.querySelectorAll("[data-export]").forEach((b) => b.addEventListener("click", () => {
  const p = currentPlan(); if (p) download(`/plans/${p.id}/exports/${b.dataset.export}`, `plan-${p.id}-${b.dataset.name}`, "#export-msg");
}));

async function allPages(path) {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await api(`${path}${path.includes("?") ? "&" : "?"}limit=1000&offset=${offset}`);
    out.push(...r.data);
    if (out.length >= r.count || !r.data.length || out.length >= 20000) return out;
  }
}

async function drawPlanCharts(p) {
  const [load, map] = await Promise.all([allPages(`/plans/${p.id}/site-load?hourly=true`), api(`/web/plans/${p.id}/map`)]);
  drawMap(map);
  // Heat map: sites x hours, share of capacity used.
  const hours = [...new Set(load.map((r) => r.start))].sort(), sites = [...new Set(load.map((r) => r.site_id))];
  const name = Object.fromEntries(map.sites.map((s) => [s.site_id, s.name]));
  siteNames = name;
  const cells = load.map((r) => [hours.indexOf(r.start), sites.indexOf(r.site_id), r.capacity ? Math.round(100 * r.people / r.capacity) : 0, r.people, r.capacity]);
  chart("heat")?.setOption({
    tooltip: { formatter: (x) => `${name[sites[x.data[1]]] || sites[x.data[1]]} ${hours[x.data[0]].slice(11)}<br>${x.data[3]} / ${x.data[4]} 人（${x.data[2]}%）` },
    grid: { left: 120, right: 20, top: 10, bottom: 120 },
    xAxis: { type: "category", data: hours.map((h) => h.slice(5)), axisLabel: { rotate: 45 } },
    yAxis: { type: "category", data: sites.map((s) => name[s] || s) },
    visualMap: { dimension: 2, min: 0, max: 100, orient: "horizontal", left: "center", bottom: 0, text: ["满载 100%", "0%"], calculable: true,
                 inRange: { color: ["#e8f0fb", "#6aa9e9", "#f1a33b", "#b00020"] } },
    series: [{ type: "heatmap", data: cells, label: { show: hours.length <= 16, formatter: (x) => x.data[2] } }],
  }, true);
  await drawCurve(p);
  await showSimulation(p).catch(() => {});
  await showWhatif(p).catch(() => {});
}

/* The map: the plan's own coordinates on value axes (no tile server); an intranet tile server can
   be set in 设置, its tiles then drawn under the points. */
function drawMap(map) {
  const c = chart("map"); if (!c) return;
  const maxPeople = Math.max(1, ...map.sites.map((s) => s.people));
  const slots = [...new Set(map.buildings.map((b) => b.slot_start))].sort();
  const lons = [...map.sites, ...map.buildings].map((x) => x.lon), lats = [...map.sites, ...map.buildings].map((x) => x.lat);
  const pad = (a) => { const lo = Math.min(...a), hi = Math.max(...a), d = (hi - lo) * 0.08 || 0.005; return [lo - d, hi + d]; };
  const [x0, x1] = pad(lons), [y0, y1] = pad(lats);
  c.setOption({
    tooltip: { formatter: (x) => x.seriesIndex === 0 ? `${x.data[3]}：${x.data[4]} 栋楼，时段 ${x.data[2]}`
               : `${x.data[3]}<br>计划 ${x.data[4]} 人，容量 ${x.data[5]} 人（负荷 ${x.data[2]}%）` },
    legend: { data: ["楼栋（颜色=时段）", "采样点（大小=人数，颜色=负荷）"], top: 0 },
    grid: { left: 60, right: 90, top: 30, bottom: 40 },
    xAxis: { type: "value", min: x0, max: x1, name: "经度", axisLabel: { formatter: (v) => v.toFixed(4) } },
    yAxis: { type: "value", min: y0, max: y1, name: "纬度", axisLabel: { formatter: (v) => v.toFixed(4) } },
    visualMap: [
      { seriesIndex: 1, dimension: 2, min: 0, max: 120, right: 0, top: 40, text: ["负荷%", ""], calculable: true,
        inRange: { color: ["#1b6e20", "#f1a33b", "#b00020"] } },
      { seriesIndex: 0, dimension: 5, type: "piecewise", show: false, min: 0, max: Math.max(1, slots.length - 1),
        inRange: { color: ["#4e79a7", "#59a14f", "#edc948", "#af7aa1", "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac"] } }],
    series: [
      { name: "楼栋（颜色=时段）", type: "scatter", symbolSize: 7, itemStyle: { opacity: 0.85 },
        data: map.buildings.map((b) => [b.lon, b.lat, b.slot_start.slice(11), b.name, b.count, slots.indexOf(b.slot_start)]) },
      { name: "采样点（大小=人数，颜色=负荷）", type: "scatter", symbol: "pin",
        symbolSize: (d) => 18 + 30 * Math.sqrt(d[4] / maxPeople),
        data: map.sites.map((s) => [s.lon, s.lat, s.capacity ? Math.round(100 * s.people / s.capacity) : 0, s.name, s.people, s.capacity]) }],
  }, true);
  drawTiles(c, x0, x1, y0, y1);
}
function drawTiles(c, x0, x1, y0, y1) {
  const url = localStorage.getItem(TILE_SETTING) || "";
  if (!url) { c.setOption({ graphic: [] }); return; }
  // Web Mercator tiles at a zoom that puts about four tiles across the view (approximate under axes in degrees).
  const z = Math.max(1, Math.min(18, Math.round(Math.log2(4 * 360 / Math.max(1e-6, x1 - x0)))));
  const tx = (lon) => Math.floor((lon + 180) / 360 * 2 ** z);
  const ty = (lat) => Math.floor((1 - Math.log(Math.tan(lat * Math.PI / 180) + 1 / Math.cos(lat * Math.PI / 180)) / Math.PI) / 2 * 2 ** z);
  const lonOf = (x) => x / 2 ** z * 360 - 180, latOf = (y) => Math.atan(Math.sinh(Math.PI * (1 - 2 * y / 2 ** z))) * 180 / Math.PI;
  const imgs = [];
  for (let x = tx(x0); x <= tx(x1); x++) for (let y = ty(y1); y <= ty(y0); y++) {
    const [px0, py0] = c.convertToPixel({ gridIndex: 0 }, [lonOf(x), latOf(y)]);
    const [px1, py1] = c.convertToPixel({ gridIndex: 0 }, [lonOf(x + 1), latOf(y + 1)]);
    imgs.push({ type: "image", z: -10, silent: true, style: { image: url.replace("{z}", z).replace("{x}", x).replace("{y}", y),
      x: px0, y: py0, width: px1 - px0, height: py1 - py0, opacity: 0.6 } });
  }
  c.setOption({ graphic: imgs });
}
$("#tiles").value = localStorage.getItem(TILE_SETTING) || "";
$("#tiles-save").addEventListener("click", () => { localStorage.setItem(TILE_SETTING, $("#tiles").value.trim()); show("#key-msg", "ok", ""); });

function windowHours(w) { return w.hours ?? Math.round((w.slots || 0) * (w.slot_minutes || 30) / 60); }

/* Coverage curve: due and sampled people over the window, from one /coverage?by=area call (the
   window's end as `at`: due people over the whole window, sampled people as checked in so far). */
async function drawCurve(p) {
  const w = p.summary.window; if (!w) return;
  const start = new Date(w.start.replace(" ", "T") + "+08:00"), now = Date.now();
  const end = new Date(start.getTime() + windowHours(w) * 3600e3);
  const r = await api(`/plans/${p.id}/coverage?by=area&step=60&at=${encodeURIComponent(end.toISOString())}`);
  const row = r.data[0]; if (!row) return;
  const times = r.times.map((t) => new Date(t));
  chart("curve")?.setOption({
    tooltip: { trigger: "axis" }, legend: { data: ["应到人数", "已采人数"], top: 0 },
    grid: { left: 60, right: 20, top: 30, bottom: 40 },
    xAxis: { type: "time" }, yAxis: { type: "value", name: "人" },
    series: [{ name: "应到人数", type: "line", step: "end", data: times.map((t, i) => [t, row.due_people[i]]) },
             { name: "已采人数", type: "line", data: times.map((t, i) => [t, row.sampled_people[i]]).filter(([t]) => t.getTime() <= now),
               areaStyle: { opacity: 0.15 } }],
  }, true);
}

/* A small CSV reader (quoted fields with commas and doubled quotes), for the simulator's tables. */
function parseCsv(text) {
  const rows = []; let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) { if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c; }
    else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") { if (c === "\r" && text[i + 1] === "\n") i++; row.push(field); rows.push(row); row = []; field = ""; }
    else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  const [head, ...body] = rows.filter((r) => r.length > 1 || r[0]);
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ""])));
}
/* The simulator writes a ' before text starting with = + - @ (CSV injection guard); show the text. */
function unguard(v) { return /^'[=+\-@\t\r]/.test(v) ? v.slice(1) : v; }

/* ---------- Simulation: run the simulator on the plan, draw coverage.csv (mean with min-max band) ---------- */
async function simulate() {
  const p = currentPlan(); if (!p) return;
  try {
    const reps = Math.max(1, Math.min(200, parseInt($("#sim-reps").value, 10) || 10));
    let job = await api(`/plans/${p.id}/simulations`, { method: "POST", body: { replications: reps } });
    while (job.status === "queued" || job.status === "running") {
      show("#sim-msg", "info", `正在仿真（任务 #${job.id}：${job.stage} ${Math.round(job.progress * 100)}%）……`);
      await new Promise((r) => setTimeout(r, 1000));
      job = await api(`/jobs/${job.id}`);
    }
    if (job.status === "failed") { show("#sim-msg", "bad", `仿真失败：${job.error}`); return; }
    show("#sim-msg", "ok", "仿真完成。");
    await showSimulation(p);
  } catch (e) { show("#sim-msg", "bad", errorText(e)); }
}
async function showSimulation(p) {
  const list = await api("/simulations?limit=100");
  const s = list.data.filter((x) => x.plan_id === p.id).sort((a, b) => b.id - a.id)[0];
  $("#sim-summary").textContent = "";
  if (!s || !s.files.includes("coverage.csv")) { chart("sim")?.clear(); return; }
  const text = await (await api(`/simulations/${s.id}/files/coverage.csv`, { raw: true })).text();
  const rows = parseCsv(text).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, +v])));
  const cols = rows.length ? Object.keys(rows[0]) : [];
  const series = [];
  for (const [key, label, colour] of [["sampled", "已采样", "#0b5cad"], ["results", "已出结果", "#1b6e20"]]) {
    if (!cols.includes(`${key}_mean`)) continue;
    const line = (suffix, name, extra) => ({ name, type: "line", symbol: "none", itemStyle: { color: colour },
      data: rows.map((r) => [r.hours, 100 * r[`${key}_${suffix}`]]), ...extra });
    series.push(line("mean", label, {}),
                line("min", label + "（最低）", { lineStyle: { type: "dashed", width: 1 } }),
                line("max", label + "（最高）", { lineStyle: { type: "dashed", width: 1 } }));
  }
  chart("sim")?.setOption({ tooltip: { trigger: "axis", valueFormatter: (v) => (+v).toFixed(1) + "%" },
    legend: { data: ["已采样", "已出结果"], top: 0 }, grid: { left: 60, right: 20, top: 30, bottom: 40 },
    xAxis: { type: "value", name: "小时", max: "dataMax" }, yAxis: { type: "value", name: "%", max: 100 }, series }, true);
  const facts = Object.entries(s.summary).filter(([k, v]) => typeof v !== "object" && SIM_LABELS[k])
    .map(([k, v]) => ({ k: SIM_LABELS[k], v: String(v) }));
  $("#sim-summary").append(el("p", { class: "muted", text: `仿真 #${s.id}：${s.replications} 次重复，种子 ${s.seed}` }),
                           table([["k", "指标"], ["v", "数值"]], facts));
  if (s.files.includes("sites.csv")) await drawSimSites(s);
}
/* Queues and waits per site from the simulation's sites.csv (means over replications). */
async function drawSimSites(s) {
  const sites = parseCsv(await (await api(`/simulations/${s.id}/files/sites.csv`, { raw: true })).text());
  const names = sites.map((r) => unguard(r.name) || r.site_id), num = (k) => sites.map((r) => +(+r[k]).toFixed(1));
  chart("sim-sites")?.setOption({
    tooltip: { trigger: "axis" }, legend: { data: ["等待中位数（分钟）", "等待P95（分钟）", "最长排队（人）"], top: 0 },
    grid: { left: 60, right: 60, top: 40, bottom: 90 },
    xAxis: { type: "category", data: names, axisLabel: { rotate: 30, interval: 0 } },
    yAxis: [{ type: "value", name: "分钟" }, { type: "value", name: "人", splitLine: { show: false } }],
    series: [{ name: "等待中位数（分钟）", type: "bar", data: num("wait_p50_min"), itemStyle: { color: "#6aa9e9" } },
             { name: "等待P95（分钟）", type: "bar", data: num("wait_p95_min"), itemStyle: { color: "#0b5cad" } },
             { name: "最长排队（人）", type: "line", yAxisIndex: 1, data: num("max_queue_people"), itemStyle: { color: "#b00020" } }],
  }, true);
  chart("sim-status")?.setOption({
    tooltip: { trigger: "axis" }, legend: { data: ["畅通", "忙碌", "拥堵"], top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 90 },
    xAxis: { type: "category", data: names, axisLabel: { rotate: 30, interval: 0 } }, yAxis: { type: "value", name: "分钟" },
    series: [["minutes_smooth", "畅通", "#1b6e20"], ["minutes_busy", "忙碌", "#f1a33b"], ["minutes_jammed", "拥堵", "#b00020"]]
      .map(([k, n, c]) => ({ name: n, type: "bar", stack: "status", data: num(k), itemStyle: { color: c } })),
  }, true);
}
$("#simulate").addEventListener("click", simulate);
/* What the simulation summary's keys mean, in the planners' words (keys not listed are not shown). */
const SIM_LABELS = {
  area: "区域", seed: "随机种子", replications: "重复次数", window_hours: "采样时限（小时）",
  target_met_replications: "全员按时完成的次数（含网格员跟进）", window_met_replications: "采样点接得住来人的次数",
  target_probability: "全员按时完成的概率", verdict: "结论",
};

/* ---------- What-if staffing: a job re-plans and simulates staff levels; staff against P(window) and p95 wait ---------- */
const AXIS_ZH = { tables: "采样台比例", registrars: "每台登记员", home_teams: "上门采样队", relief: "每点替班队", lab: "实验室通量" };
const STEP_ZH = { sweep: "逐档试算", "add at bottlenecks": "瓶颈点加台", "trim at bottleneck": "瓶颈点减台" };
const stepZh = (s) => STEP_ZH[s] || (s.startsWith("bisect ") ? `二分查找（${AXIS_ZH[s.slice(7)] || s.slice(7)}）` : s);
async function poll(job, msg, what) {
  while (job.status === "queued" || job.status === "running") {
    show(msg, "info", `正在${what}（任务 #${job.id}：${Math.round((job.progress || 0) * 100)}%）……`);
    await new Promise((r) => setTimeout(r, 1000));
    job = await api(`/jobs/${job.id}`);
  }
  return job;
}
$("#whatif-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const p = currentPlan(); if (!p) return;
  const body = { ranges: { [$("#wi-axis").value]: $("#wi-range").value.trim() }, mode: $("#wi-mode").value,
                 replications: Math.max(1, Math.min(20, parseInt($("#wi-reps").value, 10) || 5)) };
  $("#whatif-run").disabled = true;
  try {
    const job = await poll(await api(`/plans/${p.id}/whatif`, { method: "POST", body }), "#whatif-msg", "测算");
    if (job.status === "failed") { show("#whatif-msg", "bad", `测算失败：${job.error}`); return; }
    show("#whatif-msg", "ok", "测算完成。");
    await showWhatif(p);
  } catch (e) {
    if (e instanceof ApiError && e.status === 422 && Array.isArray(e.detail) && e.detail[0]?.fix)
      show("#whatif-msg", "bad", "参数有误：" + e.detail.map((d) => `${d.field}（${d.value}）：${d.fix}`).join("；"));
    else show("#whatif-msg", "bad", notEnabled(e) ? "功能未启用：服务尚未提供人员测算接口。" : errorText(e));
  } finally { $("#whatif-run").disabled = false; }
});
async function showWhatif(p) {
  const list = await api(`/whatifs?plan_id=${p.id}&limit=1`);
  const w = list.data[0];
  $("#whatif-summary").textContent = "";
  if (!w) { chart("whatif")?.clear(); return; }
  const levels = [...w.levels].sort((a, b) => a.staff - b.staff);
  const target = w.summary.target || {}, m = w.summary.minimum || {};
  const marks = (value, name) => value === undefined ? [] : [{ yAxis: value, name, label: { formatter: name } }];
  chart("whatif")?.setOption({
    tooltip: { trigger: "axis", formatter: (xs) => { const lv = levels[xs[0].dataIndex];
      return `在岗 ${lv.staff} 人（${stepZh(lv.step)}）<br>采样台 ${lv.tables}，登记员 ${lv.registrars}，上门队 ${lv.home_teams}` +
             `<br>按时完成概率 ${Math.round(lv.target_probability * 100)}%<br>等待P95 ${lv.wait_p95_min ?? "—"} 分钟` +
             `${lv.unplaced_households ? `<br>未能安排 ${lv.unplaced_households} 户` : ""}<br>${lv.meets_target ? "达标" : "未达标"}`; } },
    legend: { data: ["按时完成概率（%）", "等待P95（分钟）"], top: 0 },
    grid: { left: 60, right: 60, top: 40, bottom: 50 },
    xAxis: { type: "category", name: "在岗人数", nameLocation: "middle", nameGap: 30, data: levels.map((lv) => lv.staff) },
    yAxis: [{ type: "value", name: "%", min: 0, max: 100 }, { type: "value", name: "分钟", splitLine: { show: false } }],
    series: [
      { name: "按时完成概率（%）", type: "line", data: levels.map((lv) => Math.round(lv.target_probability * 100)), itemStyle: { color: "#0b5cad" },
        markLine: { symbol: "none", lineStyle: { type: "dotted" }, data: [
          ...marks(target.probability !== undefined ? target.probability * 100 : undefined, "目标"),
          ...(m.found ? [{ xAxis: String(m.staff), name: "最少人员", lineStyle: { color: "#1b6e20", type: "dashed" }, label: { formatter: `最少 ${m.staff} 人` } }] : [])] } },
      { name: "等待P95（分钟）", type: "line", yAxisIndex: 1, data: levels.map((lv) => lv.wait_p95_min), itemStyle: { color: "#b00020" },
        lineStyle: { type: "dashed" }, markLine: { symbol: "none", lineStyle: { type: "dotted" }, data: marks(target.max_p95_wait_min, "上限") } }],
  }, true);
  const rows = [{ k: "测算方式", v: w.params.mode === "sweep" ? "逐档全部试算" : "寻找最少人员" },
    { k: "调整项与范围", v: Object.entries(w.params.ranges).map(([a, r]) => `${AXIS_ZH[a] || a} ${r}`).join("，") },
    { k: "目标", v: `按时完成概率 ≥ ${Math.round((target.probability ?? 0.95) * 100)}%，等待P95 ≤ ${target.max_p95_wait_min ?? 30} 分钟` },
    { k: "试算档数 / 仿真次数", v: `${w.summary.levels_evaluated} / ${w.summary.simulations_run}（每档 ${w.replications} 次）` }];
  if (m.found) rows.push({ k: "最少在岗人数", v: `${m.staff} 人：采样台 ${m.tables}，登记员 ${m.registrars}，上门队 ${m.home_teams}` },
    { k: "此时按时完成概率 / 等待P95", v: `${Math.round(m.target_probability * 100)}% / ${m.wait_p95_min ?? "—"} 分钟` },
    { k: "瓶颈采样点", v: (m.bottlenecks || []).slice(0, 3).map((x) => siteNames[x] || x).join("，") || "—" });
  else rows.push({ k: "结论", v: "所给范围内没有达标的配置" + (m.bottlenecks?.length ? `，瓶颈：${m.bottlenecks.slice(0, 3).map((x) => siteNames[x] || x).join("，")}` : "") });
  $("#whatif-summary").append(el("p", { class: "muted", text: `测算 #${w.id}，种子 ${w.seed}` }), table([["k", "项目"], ["v", "结果"]], rows));
}
/* A route the service does not have (yet): FastAPI's own 404 "Not Found" or 405, not "no such plan". */
function notEnabled(e) { return e instanceof ApiError && (e.status === 405 || (e.status === 404 && e.detail === "Not Found")); }

/* ---------- The day ---------- */
/* The office sees masked phones; grid workers call from their own page. */
/* Only the first 3 digits: the last 4 are what the resident lookup checks, so staff never see them. */
function maskPhone(p) { return p && p.length >= 7 ? p.slice(0, 3) + "*".repeat(p.length - 3) : (p ? "****" : ""); }

async function loadDay() {
  const id = $("#day-plan").value; if (!id) return;
  try {
    const [grids, sites, missed] = await Promise.all([api(`/plans/${id}/status?by=grid`), api(`/plans/${id}/status?by=site`),
                                                    api(`/plans/${id}/missed?limit=500`)]);
    chart("grids")?.setOption({
      tooltip: { trigger: "axis" }, legend: { data: ["应到人数", "已采人数", "计划人数"], top: 0 },
      grid: { left: 60, right: 20, top: 30, bottom: 60 },
      xAxis: { type: "category", data: grids.data.map((g) => g.name || g.key || "未分网格"), axisLabel: { rotate: 30 } }, yAxis: { type: "value", name: "人" },
      series: [{ name: "计划人数", type: "bar", data: grids.data.map((g) => g.planned_people), itemStyle: { color: "#c9ced6" } },
               { name: "应到人数", type: "bar", data: grids.data.map((g) => g.due_people) },
               { name: "已采人数", type: "bar", data: grids.data.map((g) => g.sampled_people) }],
    }, true);
    drawGridCurve(id).catch((e) => show("#forecast-msg", "bad", errorText(e)));
    fillReplanSites(sites.data);
    const behind = sites.data.filter((s) => s.behind_people > 0).sort((a, b) => b.behind_people - a.behind_people);
    $("#behind").textContent = "";
    $("#behind").append(behind.length ? table([["name", "采样点"], ["due_people", "应到"], ["sampled_people", "已采"], ["behind_people", "落后人数"],
      [(s) => Math.round(s.coverage * 100) + "%", "覆盖率"]], behind) : el("p", { text: "没有落后的采样点。" }));
    $("#missed-count").textContent = `共 ${missed.count} 户`;
    $("#missed").textContent = "";
    $("#missed").append(table([["grid", "网格"], ["address", "地址"], ["size", "人数"], ["site", "采样点"],
      [(h) => h.slot_end ? h.slot_end.slice(11, 16) : "", "时段结束"], ["contact", "联系人"], [(h) => maskPhone(h.phone), "电话（已脱敏）"], ["outcome", "核实结果"]], missed.data));
  } catch (e) { $("#behind").textContent = errorText(e); }
}
$("#day-reload").addEventListener("click", loadDay);
$("#day-plan").addEventListener("change", loadDay);
$("#missed-xlsx").addEventListener("click", () => { const id = $("#day-plan").value; if (id) download(`/plans/${id}/missed.xlsx`, `missed-${id}.xlsx`, "#behind"); });

const PALETTE = ["#0b5cad", "#b00020", "#1b6e20", "#8a5a00", "#6a3d9a", "#00838f", "#ad1457", "#4e342e", "#37474f", "#558b2f"];
/* Coverage by grid over time: one /coverage?by=grid call (every 30 minutes of the window so far). */
async function drawGridCurve(id) {
  const r = await api(`/plans/${id}/coverage?by=grid&step=30`);
  const times = r.times.map((t) => new Date(t)), pct = (x, g) => g.planned_people ? +(100 * x / g.planned_people).toFixed(1) : 0;
  const series = [];
  r.data.forEach((g, k) => {
    const name = g.name || g.key || "未分网格", color = PALETTE[k % PALETTE.length];
    series.push({ name, type: "line", symbol: "none", itemStyle: { color }, data: times.map((t, i) => [t, pct(g.sampled_people[i], g)]) });
    series.push({ name, type: "line", symbol: "none", itemStyle: { color }, lineStyle: { type: "dashed", width: 1 },
                  data: times.map((t, i) => [t, pct(g.due_people[i], g)]), tooltip: { show: false } });
  });
  chart("grid-curve")?.setOption({
    tooltip: { trigger: "axis", valueFormatter: (v) => v + "%" }, legend: { type: "scroll", top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: "time" }, yAxis: { type: "value", name: "%（实线已采，虚线应到）", max: 100 }, series,
  }, true);
}

/* ---------- Forecast (the remaining day at the observed rates) and re-plan (a child plan) ---------- */
const DISABLED = "功能未启用：服务尚未提供该接口。";
let routes = null;  // API paths the service offers (from /openapi.json), to say up front what is not enabled
const featureOn = {};  // button -> whether its endpoint exists
async function offered(path) {
  if (!routes) { try { routes = new Set(Object.keys((await (await fetch("/openapi.json")).json()).paths || {})); } catch (e) { routes = new Set(); } }
  return routes.size === 0 || routes.has(API + path);
}
async function checkDayFeatures() {
  for (const [path, card, button, msg] of [["/plans/{plan_id}/forecasts", "#forecast-card", "#forecast-run", "#forecast-msg"],
                                            ["/plans/{plan_id}/replan", "#replan-card", "#replan-run", "#replan-msg"]]) {
    const on = featureOn[button] = await offered(path);
    $(button).disabled = !on; $(card).dataset.enabled = String(on);
    if (!on) show(msg, "info", DISABLED);
  }
}
function disabledBy(e, button, msg) {
  if (notEnabled(e)) { featureOn[button] = false; show(msg, "info", DISABLED); } else show(msg, "bad", errorText(e));
}
function fmtTime(t) { return t ? new Date(t).toLocaleString("zh-CN", { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "—"; }
$("#forecast-run").addEventListener("click", async () => {
  const id = $("#day-plan").value; if (!id) return;
  const reps = Math.max(1, Math.min(200, parseInt($("#fc-reps").value, 10) || 20));
  $("#forecast-run").disabled = true;
  try {
    let f = await api(`/plans/${id}/forecasts`, { method: "POST", body: { replications: reps, seed: 0 } });  // no "at": the service takes now, held inside the window
    const fid = f.forecast_id ?? f.id;
    while (!f.result && f.status !== "failed") {
      show("#forecast-msg", "info", `正在预测（#${fid}${f.progress !== undefined ? "：" + Math.round(f.progress * 100) + "%" : ""}）……`);
      await new Promise((r) => setTimeout(r, 1000));
      f = await api(`/forecasts/${fid}`);
    }
    if (f.status === "failed") { show("#forecast-msg", "bad", `预测失败：${f.error || ""}`); return; }
    show("#forecast-msg", "ok", `预测完成（截至 ${fmtTime(f.result.at)}，${f.result.replications} 次重复）。`);
    drawForecast(f.result);
  } catch (e) { disabledBy(e, "#forecast-run", "#forecast-msg"); }
  finally { $("#forecast-run").disabled = featureOn["#forecast-run"] === false; }
});
function drawForecast(res) {
  const late = res.late_sites || [];
  $("#forecast-late").textContent = "";
  $("#forecast-late").append(late.length
    ? el("p", { class: "msg bad", text: `预计不能在时限内采完的采样点（${late.length} 个）：` + late.map((x) => typeof x === "string" ? (siteNames[x] || x) : (x.name || x.site_id)).join("，") })
    : el("p", { class: "msg ok", text: "按目前速度，各采样点都能在时限内采完。" }));
  const grids = res.grids || [];
  $("#forecast-grids").hidden = !grids.length;
  chart("forecast-grids")?.resize();
  chart("forecast-grids")?.setOption({
    tooltip: { trigger: "axis", formatter: (xs) => { const g = grids[xs[0].dataIndex];
      return `${g.grid}<br>预计覆盖率 ${Math.round(100 * g.expected_coverage)}%（${Math.round(100 * g.p10)}%–${Math.round(100 * g.p90)}%）`; } },
    legend: { data: ["预计覆盖率", "10%–90%分位"], top: 0 }, grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "category", data: grids.map((g) => g.grid), axisLabel: { rotate: 30 } }, yAxis: { type: "value", name: "%", max: 100 },
    series: [{ name: "预计覆盖率", type: "bar", data: grids.map((g) => +(100 * g.expected_coverage).toFixed(1)), itemStyle: { color: "#0b5cad" } },
             { name: "10%–90%分位", type: "candlestick", barWidth: 6,
               data: grids.map((g) => [100 * g.p10, 100 * g.p90, 100 * g.p10, 100 * g.p90]),
               itemStyle: { color: "#b00020", color0: "#b00020", borderColor: "#b00020", borderColor0: "#b00020" } }],
  }, true);
  $("#forecast-sites").textContent = "";
  const sites = [...(res.sites || [])].sort((a, b) => (b.late - a.late) || (a.p_finish_in_window - b.p_finish_in_window));
  $("#forecast-sites").append(table([["name", "采样点"], ["due_people", "应到"], ["remaining_people", "剩余"],
    [(s) => s.observed_rate == null ? "—" : (+s.observed_rate).toFixed(1), "实际速度（人/分钟）"],
    [(s) => s.planned_rate == null ? "—" : (+s.planned_rate).toFixed(1), "计划速度（人/分钟）"],
    [(s) => fmtTime(s.expected_finish), "预计完成"], [(s) => Math.round(100 * s.p_finish_in_window) + "%", "时限内完成概率"],
    [(s) => s.late ? "将延误" : "正常", "判断"]], sites));
}

function fillReplanSites(rows) {
  const sel = $("#rp-close"), keep = new Set([...sel.selectedOptions].map((o) => o.value));
  sel.textContent = "";
  for (const r of rows.filter((x) => x.key !== "home")) sel.append(el("option", { value: r.key, text: `${r.name}（${r.key}）`, selected: keep.has(r.key) }));
}
/* "S1=4, S2：2" -> {"S1": 4, "S2": 2}; null and a message when a part is not site=number. */
function parseTables(text) {
  const out = {};
  for (const part of text.split(/[,，;；\s]+/).filter(Boolean)) {
    const m = part.match(/^([^=：:]+)[=：:](\d+)$/);
    if (!m) return [null, `“${part}”应写成 采样点编号=台数，例如 S1=4`];
    out[m[1]] = parseInt(m[2], 10);
  }
  return [out, ""];
}
$("#replan-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const id = $("#day-plan").value; if (!id) return;
  const [tables, why] = parseTables($("#rp-tables").value);
  if (!tables) { show("#replan-msg", "bad", why); return; }
  // The time as typed is the plan's clock (China time: no offset sent); empty = now, held in the window.
  const body = { close: [...$("#rp-close").selectedOptions].map((o) => o.value), tables,
                 lead_minutes: Math.max(0, parseInt($("#rp-lead").value, 10) || 0) };
  if ($("#rp-at").value) body.at = $("#rp-at").value.length === 16 ? $("#rp-at").value + ":00" : $("#rp-at").value;
  $("#replan-run").disabled = true;
  try {
    const job = await poll(await api(`/plans/${id}/replan`, { method: "POST", body }), "#replan-msg", "重新编排");
    if (job.status === "failed") { show("#replan-msg", "bad", `重新编排失败：${job.error}`); return; }
    show("#replan-msg", "ok", `已生成调整方案 #${job.plan_id}（由方案 #${id} 派生），请在“方案”中核对后发布。`);
    await loadPlans();
  } catch (e) { disabledBy(e, "#replan-run", "#replan-msg"); }
  finally { $("#replan-run").disabled = featureOn["#replan-run"] === false; }
});

/* ---------- Keys ---------- */
const ROLE = { planner: "规划", site: "采样点", grid: "网格员", viewer: "只读" };
async function loadKeys() {
  const r = await api("/keys");
  const box = $("#keys"); box.textContent = "";
  const t = table([["id", "编号"], ["name", "用途"], [(k) => ROLE[k.role] || k.role, "角色"], [(k) => [...k.sites, ...k.grids].join("，"), "范围"],
                   [(k) => k.revoked ? "已吊销" : "有效", "状态"], [() => "", "操作"]], r.data);
  [...t.tBodies[0].rows].forEach((tr, i) => { const k = r.data[i]; if (!k.revoked) tr.lastChild.append(el("button", { type: "button", class: "secondary",
    text: "吊销", "aria-label": `吊销密钥 ${k.id}`, onclick: async () => { await api(`/keys/${k.id}`, { method: "DELETE" }); loadKeys(); } })); });
  box.append(t);
}
$("#newkey").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const role = $("#k-role").value, scope = $("#k-scope").value.split(/[,，\s]+/).filter(Boolean);
  try {
    const k = await api("/keys", { method: "POST", body: { role, name: $("#k-name").value, sites: role === "site" ? scope : [], grids: role === "grid" ? scope : [] } });
    show("#key-msg", "ok", `新密钥（只显示这一次，请妥善转交）：${k.key}`);
    loadKeys();
  } catch (e) { show("#key-msg", "bad", errorText(e)); }
});

signIn(() => api("/keys"), async () => {
  $("#app").hidden = false;
  await Promise.all([loadScenarios(), loadPlans()]);
  tabs.forEach((t, i) => { t.tabIndex = i === 0 ? 0 : -1; });
});
