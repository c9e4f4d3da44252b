/* Shared by every page: the API key (sessionStorage only), fetch helpers, small DOM helpers. */
"use strict";
const API = "/api/v1";
const KEY_NAME = "sampler.apiKey";

function apiKey() { return sessionStorage.getItem(KEY_NAME) || ""; }
function setApiKey(k) { if (k) sessionStorage.setItem(KEY_NAME, k); else sessionStorage.removeItem(KEY_NAME); }

class ApiError extends Error {
  constructor(status, detail) { super(typeof detail === "string" ? detail : JSON.stringify(detail)); this.status = status; this.detail = detail; }
}

/* fetch JSON from the API with the session's key; throws ApiError (HTTP) or TypeError (network). */
async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  let body = opts.body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    headers["Content-Type"] = "application/json"; body = JSON.stringify(body);
  }
  const r = await fetch(API + path, { method: opts.method || (body ? "POST" : "GET"), headers, body, cache: "no-store" });
  if (opts.raw) { if (!r.ok) throw new ApiError(r.status, await r.text()); return r; }
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!r.ok) throw new ApiError(r.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}

function $(sel, root = document) { return root.querySelector(sel); }
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
function show(target, kind, text) {
  const box = typeof target === "string" ? $(target) : target;
  box.className = "msg " + kind; box.textContent = text; box.hidden = !text;
}
function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return "API 密钥无效或已吊销，请重新登录。";
    if (e.status === 403) return "此密钥无权执行该操作。";
    if (Array.isArray(e.detail)) return e.detail.map((d) => d.message || d.msg || JSON.stringify(d)).join("；");
    return `出错了（${e.status}）：${e.message}`;
  }
  if (e instanceof TypeError) return "网络不可用，请检查网络后重试。";
  return e.message;
}
function table(columns, rows) {
  const t = el("table", {}, el("thead", {}, el("tr", {}, columns.map(([, h]) => el("th", { scope: "col", text: h })))));
  const tb = el("tbody");
  for (const r of rows) tb.append(el("tr", {}, columns.map(([k]) => el("td", { text: typeof k === "function" ? k(r) : (r[k] ?? "") }))));
  t.append(tb); return t;
}
/* Time with its offset, as the API wants it (RFC 3339, local offset of the device). */
function nowIso() {
  const d = new Date(), off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-", p = (n) => String(Math.abs(n)).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${sign}${p(Math.trunc(off / 60))}:${p(off % 60)}`;
}
function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
function param(name) { return new URLSearchParams(location.search).get(name) || ""; }

/* Staff sign-in: a form with #key; calls onReady() once a key works (checked with `probe`). */
function signIn(probe, onReady) {
  const form = $("#signin"), out = $("#signin-msg");
  const who = $("#who");
  async function tryKey() {
    try { const info = await probe(); $("#signin-card").hidden = true; if (who) who.hidden = false; onReady(info); }
    catch (e) {
      if (e instanceof TypeError && apiKey()) {  // no network: keep the key, the page works from what it kept
        $("#signin-card").hidden = true; if (who) who.hidden = false; onReady(null); return;
      }
      setApiKey(""); $("#signin-card").hidden = false; if (who) who.hidden = true; show(out, "bad", errorText(e));
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); setApiKey($("#key").value.trim()); $("#key").value = ""; tryKey(); });
  const out_ = $("#signout");
  if (out_) out_.addEventListener("click", () => { setApiKey(""); location.reload(); });
  if (apiKey()) tryKey();
}

/* Pages open offline once visited (service workers need https or localhost). */
if ("serviceWorker" in navigator && window.isSecureContext && location.pathname !== "/") {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}
