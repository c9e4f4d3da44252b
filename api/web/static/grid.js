/* Grid worker page: the grid's missed households, tap to call, record what was found. */
"use strict";
const OUTCOMES = [["coming", "马上去采样点"], ["home_visit", "在家，需上门采样"], ["away", "不在本地"],
                  ["refused", "拒绝采样"], ["sampled_elsewhere", "已在别处采样"]];
let planId = 0;

function item(h, i) {
  const sel = el("select", { id: `o-${i}` }, OUTCOMES.map(([v, t]) => el("option", { value: v, text: t })));
  const note = el("input", { id: `n-${i}`, type: "text", maxlength: "200" });
  const phone = h.phone ? el("a", { class: "tel", href: "tel:" + h.phone, text: `拨打 ${h.contact || ""} ${h.phone}` })
                        : el("span", { class: "muted", text: "无登记电话" });
  const btn = el("button", { type: "button", text: "记录", onclick: () => record(h, sel.value, note.value, btn) });
  return el("li", { class: "household", "data-household": h.household_id },
    el("div", { class: "big" }, el("strong", { text: h.address }), ` · ${h.size} 人`),
    el("div", { class: "muted", text: `${h.grid} · ${h.compound} · ${h.site || (h.mode === "home" ? "上门" : "未安排")}` +
      (h.slot_end ? ` · 时段至 ${h.slot_end.slice(11, 16)}` : "") + (h.outcome ? ` · 上次结果：${h.outcome}` : "") }),
    el("div", {}, phone),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: `o-${i}`, text: "核实结果" }), sel),
      el("div", {}, el("label", { for: `n-${i}`, text: "备注" }), note), btn));
}

async function record(h, outcome, note, btn) {
  btn.disabled = true;
  try {
    const r = await api(`/plans/${planId}/followups`, { method: "POST", body: { followups: [{ household_id: h.household_id, outcome, note }] } });
    await reload();
    if (r.rejected.length) show("#msg", "bad", r.rejected[0].reason);
    else show("#msg", "ok", `已记录：${h.address} · ${OUTCOMES.find((o) => o[0] === outcome)[1]}`);
  } catch (e) { show("#msg", "bad", errorText(e)); btn.disabled = false; }
}

async function reload() {
  const grace = Math.max(0, parseFloat($("#grace").value) || 0);
  const r = await api(`/plans/${planId}/missed?grace_min=${grace}&limit=500`);
  $("#count").textContent = `共 ${r.count} 户`;
  const ul = $("#missed"); ul.textContent = "";
  r.data.forEach((h, i) => ul.append(item(h, i)));
  if (!r.data.length) ul.append(el("li", { class: "household", text: "暂无未采样住户。" }));
  return r;
}

$("#plan").value = param("plan") || localStorage.getItem("sampler.grid.plan") || "";
signIn(async () => { planId = parseInt($("#plan").value, 10) || parseInt(localStorage.getItem("sampler.grid.plan"), 10) || 0;
                     if (!planId) throw new Error("请填写方案编号。"); return reload(); },
       () => { localStorage.setItem("sampler.grid.plan", String(planId)); $("#app").hidden = false; });
$("#reload").addEventListener("click", () => reload().catch((e) => show("#msg", "bad", errorText(e))));
