// Alt's base script: every page works without it; with it, htmx requests carry the session's
// CSRF token (from the page's <meta name="csrf-token">).
"use strict";

document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});
