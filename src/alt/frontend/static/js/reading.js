// The reading pages' keyboard shortcuts, swipes and mark-read-on-scroll. Every action here is a
// click on a button or a link the page already has (so the forms, the CSRF token and htmx do
// the work); without this script the page works the same, by mouse or finger.
"use strict";

(() => {
  const items = document.getElementById("items");
  const reader = document.querySelector("article.reader");
  const LIST_KEY = "alt:list";
  let selected = null;
  let pendingG = 0;

  const allItems = () => (items ? Array.from(items.querySelectorAll(".item")) : []);

  function select(item) {
    if (!item) return;
    if (selected) selected.classList.remove("selected");
    selected = item;
    item.classList.add("selected");
    item.scrollIntoView({ block: "nearest" });
    item.querySelector(".item-title a").focus({ preventScroll: true });
  }

  function move(step) {
    const list = allItems();
    const at = list.indexOf(selected);
    select(list[at < 0 ? 0 : Math.min(Math.max(at + step, 0), list.length - 1)]);
  }

  // The article of a key: the selected item of a list, or the article page itself.
  const current = () => selected || reader;
  const press = (scope, selector) => {
    const button = scope && scope.querySelector(selector);
    if (button) button.click();
  };
  const go = (url) => { window.location.assign(url); };

  // --- the list an article was opened from: previous and next on the article page ----------
  function rememberList() {
    if (!items) return;
    const ids = allItems().map((item) => item.dataset.id);
    sessionStorage.setItem(LIST_KEY, JSON.stringify({ ids }));
  }

  function neighbours() {
    if (!reader) return {};
    let ids = [];
    try { ids = JSON.parse(sessionStorage.getItem(LIST_KEY) || "{}").ids || []; } catch { ids = []; }
    const at = ids.indexOf(reader.dataset.id);
    if (at < 0) return {};
    return { prev: ids[at - 1], next: ids[at + 1] };
  }

  function showPager() {
    const pager = document.querySelector("[data-pager]");
    const { prev, next } = neighbours();
    if (!pager || !(prev || next)) return;
    for (const [link, id] of [[pager.querySelector("[data-prev]"), prev], [pager.querySelector("[data-next]"), next]]) {
      if (id) link.href = `/articles/${id}`;
      else link.hidden = true;
    }
    pager.hidden = false;
  }

  function step(direction) {
    if (items) { move(direction); return; }
    const { prev, next } = neighbours();
    const id = direction > 0 ? next : prev;
    if (id) go(`/articles/${id}`);
  }

  // --- keys ----------------------------------------------------------------------------------
  const typing = (target) => target.closest("input, textarea, select, [contenteditable]");
  const dialog = document.getElementById("shortcuts");
  const actions = {
    j: () => step(1),
    k: () => step(-1),
    o: () => { if (selected) selected.querySelector(".item-title a").click(); },
    m: () => press(current(), ".toggle-read button"),
    s: () => press(current(), ".toggle-star button"),
    r: () => window.location.reload(),
    A: () => {
      const box = document.getElementById("mark-all");
      if (!box) return;
      box.open = true;
      box.querySelector("select").focus();
    },
    "?": () => { if (dialog && !dialog.open) dialog.showModal(); },
  };
  const goTo = { u: "/", s: "/starred", f: "/subscriptions" };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (dialog && dialog.open) return;
    const key = event.key;
    if (pendingG && Date.now() - pendingG < 1500 && goTo[key]) {
      pendingG = 0;
      event.preventDefault();
      go(goTo[key]);
      return;
    }
    pendingG = 0;
    if (key === "g") { pendingG = Date.now(); return; }
    if (key === "Enter") {
      // Enter on a link or a button keeps its own meaning; on the page it opens the selection.
      if (event.target.closest("a, button, summary") || !selected) return;
      actions.o();
      event.preventDefault();
      return;
    }
    const action = actions[key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  for (const button of document.querySelectorAll("[data-show-shortcuts]")) {
    button.closest(".help-hint").hidden = false;
    button.addEventListener("click", () => actions["?"]());
  }

  // --- swipe a list item: right marks it read (or unread), left stars it ----------------------
  // Under the moving item, a strip shows the label of the button that letting go presses.
  const ARM_PX = 80;
  function swipeable(item) {
    const body = item.querySelector(".item-body");
    const hint = document.createElement("span");
    hint.className = "swipe-hint";
    hint.setAttribute("aria-hidden", "true");
    item.prepend(hint);
    let start = null;
    let dx = 0;
    const target = () => item.querySelector(dx > 0 ? ".toggle-read button" : ".toggle-star button");
    const reset = () => {
      item.classList.remove("swiping", "swipe-left", "swipe-right", "armed");
      body.style.transform = "";
      start = null;
      dx = 0;
    };
    item.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse") return;
      start = { x: event.clientX, y: event.clientY, id: event.pointerId };
    });
    item.addEventListener("pointermove", (event) => {
      if (!start || event.pointerId !== start.id) return;
      dx = event.clientX - start.x;
      if (!item.classList.contains("swiping")) {
        if (Math.abs(dx) < 12 || Math.abs(dx) < Math.abs(event.clientY - start.y)) return;
        item.classList.add("swiping");
      }
      item.classList.toggle("swipe-right", dx > 0);
      item.classList.toggle("swipe-left", dx < 0);
      item.classList.toggle("armed", Math.abs(dx) >= ARM_PX);
      hint.textContent = target().textContent.trim();
      body.style.transform = `translateX(${dx}px)`;
    });
    item.addEventListener("pointerup", () => {
      if (start && item.classList.contains("swiping") && Math.abs(dx) >= ARM_PX) target().click();
      reset();
    });
    item.addEventListener("pointercancel", reset);
  }

  // --- mark read on scrolling past (a profile preference) -------------------------------------
  const passed = items && items.dataset.markOnScroll === "true"
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting || entry.boundingClientRect.bottom > 0) continue;
        const form = entry.target.querySelector('.toggle-read[data-read="false"]');
        if (form) form.requestSubmit();
        passed.unobserve(entry.target);
      }
    })
    : null;

  function enhance(root) {
    const found = root.matches && root.matches(".item") ? [root] : Array.from(root.querySelectorAll(".item"));
    for (const item of found) {
      swipeable(item);
      if (passed) passed.observe(item);
    }
    rememberList();
  }

  enhance(document);
  document.addEventListener("htmx:load", (event) => {
    if (event.target !== document.body && items && items.contains(event.target)) enhance(event.target);
  });
  showPager();
  // Opening an article is reading it (the button's form carries the CSRF token).
  // Not on a reload: the reader may have just marked it unread.
  const reloaded = performance.getEntriesByType("navigation")[0]?.type === "reload";
  if (reader && reader.dataset.openedUnread === "true" && !reloaded) {
    const form = reader.querySelector('.toggle-read[data-read="false"]');
    if (form) form.requestSubmit();
  }
})();
