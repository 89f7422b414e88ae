// Live counts from the stats stream (/api/v1/sse/feeds/stats). On each `stats` event it sets the
// text of [data-stat="NAME"] (fields of /v1/stats), and, when the event carries the unread counts
// (the first event of a stream, then when they change), of [data-count-feed="ID"],
// [data-count-category="ID"] and [data-count-total] (with `data-zero` on those at 0, for CSS);
// then it dispatches the document event "alt:stats" with the event's data as its detail.
//
// The stream is open only while the page shows something it updates and is visible (each open
// stream holds a connection, and a browser has few per site); a stream the server refused (a
// session that ended) is tried again later, less and less often.
"use strict";

(() => {
  const WATCHED = "[data-stat],[data-count-feed],[data-count-category],[data-count-total]";
  const FIRST_WAIT_MS = 5000;
  const MAX_WAIT_MS = 300000;
  const format = new Intl.NumberFormat(document.documentElement.lang || undefined);
  let source = null;
  let timer = null;
  let wait = FIRST_WAIT_MS;

  const show = (element, value) => {
    if (typeof value !== "number") return;
    const text = format.format(value);
    if (element.textContent !== text) element.textContent = text;
    element.toggleAttribute("data-zero", value === 0);
  };

  const showAll = (attribute, name, values) => {
    for (const element of document.querySelectorAll(`[${attribute}]`)) {
      show(element, values.get(element.dataset[name]));
    }
  };

  const apply = (data) => {
    for (const element of document.querySelectorAll("[data-stat]")) {
      show(element, data[element.dataset.stat]);
    }
    const counts = data.counts;
    if (counts) {
      const byId = (rows, key) => new Map(rows.map((row) => [String(row[key]), row.unread]));
      showAll("data-count-feed", "countFeed", byId(counts.feeds, "feed_id"));
      showAll("data-count-category", "countCategory", byId(counts.categories, "category_id"));
      for (const element of document.querySelectorAll("[data-count-total]")) {
        show(element, counts.total);
      }
    }
    document.dispatchEvent(new CustomEvent("alt:stats", { detail: data }));
  };

  const close = () => {
    clearTimeout(timer);
    timer = null;
    if (source) source.close();
    source = null;
  };

  const open = () => {
    close();
    source = new EventSource("/api/v1/sse/feeds/stats");
    source.addEventListener("stats", (event) => {
      wait = FIRST_WAIT_MS;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      apply(data);
    });
    // A dropped connection is retried by the browser itself; a refused one (CLOSED) is not.
    source.addEventListener("error", () => {
      if (!source || source.readyState !== EventSource.CLOSED) return;
      source = null;
      timer = setTimeout(() => {
        timer = null;
        update();
      }, wait);
      wait = Math.min(wait * 2, MAX_WAIT_MS);
    });
  };

  // Open or close the stream for what the page is now.
  function update() {
    const wanted = document.visibilityState === "visible" && document.querySelector(WATCHED);
    if (wanted && !source && !timer) open();
    else if (!wanted) close();
  }

  document.addEventListener("visibilitychange", update);
  document.addEventListener("htmx:afterSettle", update);
  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", update);
  update();
})();
