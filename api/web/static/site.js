/* Site page: schedule, check-ins by code or camera, counts, and a localStorage queue that survives
   minutes without network (each check-in carries its own uuid; the API stores an id once). */
"use strict";
const QUEUE = "sampler.site.queue";
const RECENT = "sampler.site.recent";
const CODE_RE = /^[A-HJKMNP-Z2-9]{8}$/;  // resident codes: 8 symbols without 0/O/1/I/L
let planId = 0, siteId = "", sending = false;

function load(name) { try { return JSON.parse(localStorage.getItem(name) || "[]"); } catch (e) { return []; } }
function save(name, v) { localStorage.setItem(name, JSON.stringify(v)); }

function setNet(online) { $("#net").textContent = online ? "在线" : "离线（登记先存在本机）"; }

function renderRecent() {
  const ul = $("#recent"); ul.textContent = "";
  for (const r of load(RECENT).slice(-8).reverse()) {
    const state = { queued: "待上传", sent: "已上传", duplicate: "已上传（重复）", rejected: "未通过：" + (r.reason || "") }[r.state];
    ul.append(el("li", { class: "household" }, el("strong", { text: r.code }), ` ${r.at.slice(11, 16)} · ${state}`));
  }
  $("#queued").textContent = String(load(QUEUE).length);
}
function mark(ids, state, reasons = {}) {
  const recent = load(RECENT);
  for (const r of recent) if (ids.has(r.id)) { r.state = state; if (reasons[r.id]) r.reason = reasons[r.id]; }
  save(RECENT, recent.slice(-200));
}

/* Send everything queued; keep it queued when the network is down. */
async function flush() {
  const queue = load(QUEUE);
  if (sending || !queue.length) { renderRecent(); return; }
  sending = true;
  const batch = queue.slice(0, 500);
  try {
    const byPlan = batch.filter((c) => c.plan === batch[0].plan);
    const res = await api(`/plans/${byPlan[0].plan}/checkins`, { method: "POST",
      body: { checkins: byPlan.map(({ plan, ...c }) => c) } });
    const reasons = {}, rejected = new Set();
    for (const r of res.rejected) { const c = byPlan[r.index]; rejected.add(c.id); reasons[c.id] = r.reason; }
    const done = new Set(byPlan.map((c) => c.id));
    save(QUEUE, load(QUEUE).filter((c) => !done.has(c.id)));
    mark(new Set([...done].filter((id) => !rejected.has(id))), "sent");
    mark(rejected, "rejected", reasons);
    setNet(true);
    if (rejected.size) show("#checkin-msg", "bad", "有登记未通过：" + Object.values(reasons).join("；"));
    refreshCounts();
  } catch (e) {
    if (e instanceof ApiError) show("#checkin-msg", "bad", errorText(e)); else setNet(false);
  } finally { sending = false; renderRecent(); }
}

function checkIn(raw) {
  let code = raw.trim();
  const m = code.match(/[?&]code=([^&#]+)/);  // a QR code carrying the resident link /r?code=…
  if (m) code = decodeURIComponent(m[1]);
  code = code.toUpperCase();
  if (!code) return;
  const c = { id: uuid(), plan: planId, site_id: siteId, at: nowIso() };
  if (CODE_RE.test(code)) c.code = code; else c.household_id = raw.trim();
  const people = parseInt($("#people").value, 10);
  if (people > 0) c.people = people;
  save(QUEUE, [...load(QUEUE), c]);
  save(RECENT, [...load(RECENT), { id: c.id, code, at: c.at, state: "queued" }].slice(-200));
  show("#checkin-msg", "ok", `已登记 ${code}`);
  $("#code").value = ""; $("#people").value = ""; $("#code").focus();
  renderRecent();
  flush();
}

async function refreshCounts() {
  if (!planId) return;
  try {
    const r = await api(`/plans/${planId}/status?by=site`);
    const row = r.data.find((x) => x.key === siteId);
    $("#due").textContent = row ? row.due_people : "–";
    $("#sampled").textContent = row ? row.sampled_people : "–";
    $("#coverage").textContent = row ? Math.round(row.coverage * 100) + "%" : "–";
    return r;
  } catch (e) { if (!(e instanceof ApiError)) setNet(false); return null; }
}

async function loadSchedule() {
  const box = $("#schedule"); box.textContent = "加载中……";
  try {
    const rows = [];
    for (let offset = 0; ; offset += 1000) {
      const r = await api(`/plans/${planId}/buildings?site_id=${encodeURIComponent(siteId)}&limit=1000&offset=${offset}`);
      rows.push(...r.data);
      if (rows.length >= r.count || !r.data.length) break;
    }
    rows.sort((a, b) => (a.slot_start + a.name).localeCompare(b.slot_start + b.name, "zh-CN"));
    box.textContent = "";
    box.append(table([[(r) => `${r.slot_start.slice(11)}–${r.slot_end.slice(11)}`, "时段"], ["name", "楼栋"],
      ["compound", "小区"], ["grid", "网格"], ["households", "户数"], ["people", "人数"]], rows));
    if (!rows.length) box.textContent = "本点没有安排。";
  } catch (e) { box.textContent = errorText(e); }
}

async function choose() {
  planId = parseInt($("#plan").value, 10) || 0; localStorage.setItem("sampler.site.plan", String(planId));
  const st = await refreshCounts();
  const sel = $("#site"), keep = localStorage.getItem("sampler.site.site") || "";
  const known = st ? st.data.map((r) => ({ key: r.key, name: r.name })) : JSON.parse(localStorage.getItem("sampler.site.sites") || "[]");
  if (st) localStorage.setItem("sampler.site.sites", JSON.stringify(known));
  if (sel.dataset.plan !== String(planId) || !sel.options.length) {
    sel.textContent = "";
    for (const r of known) sel.append(el("option", { value: r.key, text: `${r.name}（${r.key}）`, selected: r.key === keep }));
    sel.dataset.plan = String(planId);
  }
  siteId = sel.value; localStorage.setItem("sampler.site.site", siteId);
  refreshCounts(); loadSchedule();
}

async function scan() {
  const video = $("#camera");
  try {
    const detector = new BarcodeDetector({ formats: ["qr_code", "code_128"] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream; video.hidden = false; await video.play();
    const stop = () => { stream.getTracks().forEach((t) => t.stop()); video.hidden = true; };
    const tick = async () => {
      const found = await detector.detect(video).catch(() => []);
      if (found.length) { stop(); checkIn(found[0].rawValue); } else if (!video.hidden) requestAnimationFrame(tick);
    };
    video.onclick = stop; tick();
    show("#checkin-msg", "info", "请将核酸码或二维码对准摄像头（点击画面可关闭）。");
  } catch (e) { show("#checkin-msg", "bad", "无法打开摄像头，请手动输入核酸码。"); $("#code").focus(); }
}

signIn(() => api("/plans?limit=50"), async (plans) => {
  $("#app").hidden = false;
  if (plans) localStorage.setItem("sampler.site.plans", JSON.stringify({ data: plans.data.map(({ id, area, published }) => ({ id, area, published })) }));
  else { plans = JSON.parse(localStorage.getItem("sampler.site.plans") || '{"data": []}'); setNet(false); }
  const sel = $("#plan"), keep = param("plan") || localStorage.getItem("sampler.site.plan") || "";
  sel.textContent = "";
  for (const p of plans.data) sel.append(el("option", { value: p.id, text: `#${p.id} ${p.area}${p.published ? "（已发布）" : ""}`,
    selected: String(p.id) === keep }));
  if (!keep) { const pub = plans.data.find((p) => p.published); if (pub) sel.value = String(pub.id); }
  sel.addEventListener("change", choose);
  $("#site").addEventListener("change", () => { siteId = $("#site").value; localStorage.setItem("sampler.site.site", siteId); refreshCounts(); loadSchedule(); });
  await choose();
  renderRecent(); flush();
});
$("#checkin").addEventListener("submit", (ev) => { ev.preventDefault(); checkIn($("#code").value); });
/* Camera scanning where the browser has BarcodeDetector (Chrome on Android, Edge); elsewhere (WeChat
   on iOS, Firefox, Safari) the page says so and typing the code is the way. */
if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  $("#scan").hidden = false; $("#scan").addEventListener("click", scan);
} else {
  $("#scan-note").textContent = "此浏览器不支持扫码，请直接输入核酸码（或使用扫码枪）。"; $("#scan-note").hidden = false;
}
window.addEventListener("online", () => { setNet(true); flush(); });
window.addEventListener("offline", () => setNet(false));
setInterval(flush, 5000);
setInterval(refreshCounts, 30000);
