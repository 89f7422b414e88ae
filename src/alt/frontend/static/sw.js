// Alt's service worker, served at /sw.js (alt.frontend.ui.pwa writes BUILD into it: the app
// shell's URLs and a version made from their hashes, so that a release replaces the caches).
//
// - The shell (CSS, scripts, icons, the offline page) is cached at install; static files are
//   answered from the cache first (their URLs carry their version).
// - Pages are fetched from the network first; offline, an article page comes from the cache of
//   the newest unread articles (refreshed when a page asks, at most every few minutes), anything
//   else gets the offline page.
// - Read/star changes (POST /articles/{id}/read|unread|star|unstar) made offline are kept in
//   IndexedDB, with the CSRF token they were made with, and sent in order once back online.
// - Logging out (or a page that needs a login sending the browser to /login) deletes the saved
//   articles and the queue: they belong to the user who leaves.
// Nothing else is cached: no API answer, no POST, no other page.
"use strict";

const BUILD = null;

const SHELL_CACHE = `alt-shell-${BUILD.version}`;
const ARTICLES_CACHE = `alt-articles-${BUILD.version}`;
const REFRESH_EVERY_MS = 5 * 60 * 1000;
const MARK = /^\/articles\/\d+\/(read|unread|star|unstar)$/;
const ARTICLE = /^\/articles\/\d+$/;
const KEPT_HEADERS = ["content-type", "x-csrf-token", "hx-request", "accept"];

let lastRefresh = 0;
let refreshing = null;
let stopRefresh = null;
let flushing = null;
let mayHaveQueued = true; // false once a flush found the queue empty: no IndexedDB per fetch

self.addEventListener("install", (event) => {
  // What the worker has nothing to do with goes straight to the network, without waking it
  // (where the browser can): the API and its event streams, and the scripts' GETs (htmx's
  // fragments). Navigations, static files and POSTs still come to the worker.
  const routed = event.addRoutes
    ? event.addRoutes([
      { condition: { urlPattern: { pathname: "/api/*" } }, source: "network" },
      { condition: { requestMode: "cors", requestMethod: "GET" }, source: "network" },
    ]).catch(() => {})
    : Promise.resolve();
  event.waitUntil(
    Promise.all([routed, caches.open(SHELL_CACHE).then((cache) => cache.addAll(BUILD.shell))])
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name.startsWith("alt-") && name !== SHELL_CACHE && name !== ARTICLES_CACHE)
          .map((name) => caches.delete(name)),
      ))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  const kind = event.data && event.data.type;
  if (kind === "refresh") event.waitUntil(refreshArticles());
  else if (kind === "status") event.waitUntil(tellPending(event.source));
  else if (kind === "flush") event.waitUntil(flush());
});

self.addEventListener("sync", (event) => {
  if (event.tag === "alt-queue") event.waitUntil(flush());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === "/logout") {
    event.respondWith(logOut(request));
  } else if (request.method === "POST" && MARK.test(url.pathname)) {
    event.respondWith(sendOrQueue(request));
  } else if (request.method !== "GET") {
    return;
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    // The login page means no session (logged out, or expired): the saved pages are not yours.
    if (url.pathname === "/login") event.waitUntil(forgetUser());
    event.respondWith(networkFirst(request, url));
  }
  // Any fetch is a sign that the browser may be online again.
  event.waitUntil(flush());
});

async function cacheFirst(request) {
  return (await caches.match(request)) || fetch(request);
}

async function networkFirst(request, url) {
  try {
    return await fetch(request);
  } catch (error) {
    const saved = ARTICLE.test(url.pathname) && await caches.match(url.pathname, { cacheName: ARTICLES_CACHE });
    return saved || (await caches.match(BUILD.offline, { cacheName: SHELL_CACHE })) || Response.error();
  }
}

// ---- The saved articles --------------------------------------------------------------------

function refreshArticles() {
  if (refreshing) return refreshing;
  if (Date.now() - lastRefresh < REFRESH_EVERY_MS) return Promise.resolve();
  lastRefresh = Date.now();
  stopRefresh = new AbortController();
  refreshing = saveUnread(stopRefresh.signal)
    .catch(() => { lastRefresh = 0; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function saveUnread(signal) {
  const answer = await fetch("/offline/articles.json", { headers: { Accept: "application/json" }, signal });
  if (!answer.ok || !isType(answer, "application/json")) return;
  const wanted = (await answer.json()).pages.filter((page) => ARTICLE.test(page));
  const cache = await caches.open(ARTICLES_CACHE);
  const saved = new Set((await cache.keys()).map((request) => new URL(request.url).pathname));
  await Promise.all([...saved].filter((page) => !wanted.includes(page)).map((page) => cache.delete(page)));
  // One page at a time: the reader's own requests never wait behind a burst of ours.
  for (const page of wanted.filter((page) => !saved.has(page))) await saveArticle(cache, page, signal);
}

async function saveArticle(cache, page, signal) {
  // `Purpose: prefetch`: saving a page is not opening it, so the page marks nothing read (it
  // does when someone opens the saved copy: offline, that change waits in the queue).
  const response = await fetch(page, { headers: { Purpose: "prefetch" }, redirect: "error", signal });
  if (response.ok && isType(response, "text/html")) await cache.put(page, response);
}

function isType(response, type) {
  return (response.headers.get("content-type") || "").startsWith(type);
}

async function logOut(request) {
  await flush();
  await forgetUser();
  try {
    return await fetch(request);
  } catch (error) {
    return (await caches.match(BUILD.offline, { cacheName: SHELL_CACHE })) || Response.error();
  }
}

async function forgetUser() {
  if (refreshing) {
    stopRefresh.abort(); // else it could save pages again after the deletion
    await refreshing;
  }
  lastRefresh = 0;
  await caches.delete(ARTICLES_CACHE);
  await queue("readwrite", (store) => store.clear());
  mayHaveQueued = false;
  await tellPending();
}

// ---- The offline queue of read/star changes ------------------------------------------------

async function sendOrQueue(request) {
  const kept = await keep(request);
  await flush();
  if (await pendingCount() === 0) {
    try {
      return await fetch(request);
    } catch (error) {
      // offline: queued below
    }
  }
  // Queued behind any change still waiting, so that they are sent in the order they were made.
  await enqueue(kept);
  return queued();
}

async function enqueue(change) {
  await queue("readwrite", (store) => store.add(change));
  mayHaveQueued = true;
  await tellPending();
  if (self.registration.sync) self.registration.sync.register("alt-queue").catch(() => {});
}

// What a queued change needs to be sent again later: its address, headers and body.
async function keep(request) {
  const headers = {};
  for (const name of KEPT_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return { url: request.url, headers, body: await request.clone().text() };
}

// The answer to a change that is queued: "no content", to a script as to a form (a browser stays
// on the page that sent a form answered 204: no reload, so a page that sends a change as it
// loads cannot loop on its own saved copy).
function queued() {
  return new Response(null, { status: 204 });
}

function flush() {
  if (!mayHaveQueued) return Promise.resolve();
  if (!flushing) flushing = sendQueued().finally(() => { flushing = null; });
  return flushing;
}

async function sendQueued() {
  let sent = 0;
  let failed = 0;
  for (;;) {
    const first = await queue("readonly", (store) => store.openCursor());
    if (!first) {
      mayHaveQueued = false;
      break;
    }
    const change = first.value;
    let response;
    try {
      response = await fetch(change.url, {
        method: "POST", headers: change.headers, body: change.body, redirect: "manual",
      });
    } catch (error) {
      break; // still offline: tried again on the next fetch, message or sync
    }
    if (response.status >= 500 || response.status === 429) break;
    // A refused change (the session ended, the article is gone) would be refused again.
    if (response.status >= 400) failed += 1;
    sent += 1;
    await queue("readwrite", (store) => store.delete(first.key));
  }
  if (sent) await tellPending(undefined, failed);
}

function pendingCount() {
  return queue("readonly", (store) => store.count());
}

async function tellPending(client, failed = 0) {
  const message = { type: "pending", count: await pendingCount(), failed };
  const targets = client ? [client] : await self.clients.matchAll({ type: "window" });
  for (const target of targets) target.postMessage(message);
}

// One IndexedDB request on the queue's store, as a promise of its result.
function queue(mode, use) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("alt-offline", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("queue", { autoIncrement: true });
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const request = use(db.transaction("queue", mode).objectStore("queue"));
      request.onsuccess = () => { resolve(request.result); db.close(); };
      request.onerror = () => { reject(request.error); db.close(); };
    };
  });
}
