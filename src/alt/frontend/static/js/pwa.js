// The installable app, page side: registers the service worker (/sw.js), asks it to refresh the
// articles saved for offline reading when a logged-in page loads, shows how many read/star
// changes made offline wait to be sent (#offline-status, templates/pwa/status.html), and lists
// the saved articles on the offline page (#offline-articles).
"use strict";

(() => {
  if (!("serviceWorker" in navigator)) return;
  const worker = navigator.serviceWorker;

  function tell(message) {
    worker.ready.then((registration) => registration.active && registration.active.postMessage(message));
  }

  function showPending(count, failed) {
    const status = document.getElementById("offline-status");
    if (!status) return;
    const lines = [];
    if (count > 0) lines.push((count === 1 ? status.dataset.one : status.dataset.many).replace("{n}", count));
    if (failed > 0) lines.push(status.dataset.failed.replace("{n}", failed));
    status.textContent = lines.join(" ");
    status.hidden = lines.length === 0;
  }

  // The saved pages' titles, newest first (by the article page's <time datetime>).
  async function listSavedArticles() {
    const list = document.getElementById("offline-articles");
    if (!list) return;
    const name = (await caches.keys()).find((key) => key.startsWith("alt-articles-"));
    const cache = name && await caches.open(name);
    const saved = [];
    for (const request of cache ? await cache.keys() : []) {
      const page = new DOMParser().parseFromString(await (await cache.match(request)).text(), "text/html");
      const time = page.querySelector("time[datetime]");
      saved.push({
        href: new URL(request.url).pathname,
        title: page.title.replace(/ · Alt$/, ""),
        when: time ? Date.parse(time.getAttribute("datetime")) || 0 : 0,
      });
    }
    saved.sort((a, b) => b.when - a.when);
    for (const article of saved) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = article.href;
      link.textContent = article.title || article.href;
      item.append(link);
      list.append(item);
    }
    document.getElementById("offline-none").hidden = saved.length > 0;
  }

  worker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "pending") showPending(event.data.count, event.data.failed);
  });
  worker.startMessages(); // now, not at DOMContentLoaded: a change may be queued before that
  window.addEventListener("online", () => tell({ type: "flush" }));

  // After the page's load: installing the worker (the shell's files) and saving articles never
  // compete with the page itself.
  function start() {
    worker.register("/sw.js", { scope: "/" }).then(() => {
      tell({ type: "status" });
      if (document.querySelector('meta[name="csrf-token"]') && navigator.onLine) tell({ type: "refresh" });
    });
  }
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
  listSavedArticles();
})();
