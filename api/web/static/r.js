/* Resident page: code + last 4 digits of the phone -> site, address, time, instruction, queue status. */
"use strict";
const UNIFORM = "未查到匹配的记录，请核对核酸码和手机号后 4 位。如仍有疑问，请联系所在网格员。";
let sites = [];

/* The one lookup call: the resident code from the SMS and the last 4 digits of the phone. */
async function lookup(code, last4) {
  return api("/lookup", { method: "POST", body: { code, phone_last4: last4 } });
}

function hhmm(s) { return s ? s.slice(11, 16) : ""; }

async function loadSites() {
  try {
    const r = await api("/public/sites");
    sites = r.data;
    const ul = $("#sites"); ul.textContent = "";
    if (!sites.length) ul.append(el("li", { class: "household", text: "尚未发布采样安排。" }));
    for (const s of sites) {
      ul.append(el("li", { class: "household" }, el("span", { text: s.name }), " ",
        el("span", { class: "pill " + s.status, text: s.status }),
        s.status === "未开放" ? "" : el("span", { class: "queue-badge muted", text: `约 ${s.wait_minutes} 分钟 · ${s.queue_people} 人排队` })));
    }
    $("#sites-at").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN");
  } catch (e) { $("#sites-at").textContent = "排队情况暂时无法获取。"; }
}

$("#lookup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const code = $("#code").value.trim().toUpperCase(), last4 = $("#last4").value.trim();
  $("#answer").hidden = true;
  if (!/^\d{4}$/.test(last4) || !code) { show("#msg", "bad", UNIFORM); return; }
  show("#msg", "info", "正在查询……");
  try {
    const a = await lookup(code, last4);
    show("#msg", "ok", "");
    $("#msg").hidden = true;
    $("#a-site").textContent = a.site || "—";
    $("#a-address").textContent = a.address || "—";
    $("#a-time").textContent = a.slot_start ? `${+a.slot_start.slice(5, 7)}月${+a.slot_start.slice(8, 10)}日 ${hhmm(a.slot_start)}–${hhmm(a.slot_end)}` : "待安排";
    $("#a-instruction").textContent = a.instruction;
    await loadSites();
    const s = sites.find((x) => x.name === a.site);
    $("#a-status").hidden = !s;
    if (s) { $("#a-pill").className = "pill " + s.status; $("#a-pill").textContent = s.status;
             $("#a-wait").textContent = s.status === "未开放" ? "" : `预计排队约 ${s.wait_minutes} 分钟`; }
    $("#answer").hidden = false;
    $("#answer-title").focus();
  } catch (e) {
    if (e instanceof ApiError && e.status === 429) show("#msg", "bad", "查询过于频繁，请稍后再试。");
    else if (e instanceof ApiError) show("#msg", "bad", UNIFORM);  // every mismatch reads the same
    else show("#msg", "bad", "网络不可用，请稍后再试。");
  }
});

$("#answer-title").tabIndex = -1;
$("#code").value = param("code");
if ($("#code").value) $("#last4").focus();
loadSites();
setInterval(loadSites, 60000);
