/* Service worker: the staff and resident pages open without network (pages network-first with
   the cached copy as fallback, static files from the cache); the API is never cached. */
"use strict";
const CACHE = "sampler-web-v3";  // bump when a cached static file changes
const SHELL = ["/site", "/r", "/grid", "/static/app.css", "/static/common.js", "/static/site.js", "/static/r.js",
               "/static/grid.js", "/static/favicon.svg"];

self.addEventListener("install", (e) => { e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL))); self.skipWaiting(); });
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  if (url.pathname.startsWith("/static/")) {
    e.respondWith(caches.match(e.request).then((hit) => hit || fetch(e.request)));
    return;
  }
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(url.pathname, copy)); }
    return r;
  }).catch(() => caches.match(url.pathname).then((hit) => hit || Response.error())));
});
