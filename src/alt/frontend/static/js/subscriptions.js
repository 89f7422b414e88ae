// The subscription pages: a form that waits on a slow answer (looking for a site's feeds,
// importing a file) says so on its button and is not sent twice. Works without it.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = form.querySelector("button[data-busy]");
  if (!button) return;
  if (form.getAttribute("aria-busy") === "true") {
    event.preventDefault();
    return;
  }
  form.setAttribute("aria-busy", "true");
  button.setAttribute("aria-disabled", "true");
  button.textContent = button.dataset.busy;
});
