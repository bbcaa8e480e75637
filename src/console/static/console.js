// ironbark console: live parts and small conveniences. Every page works
// without this script; it only saves reloads.
"use strict";

// Elements with data-poll="URL" are refreshed from that URL (an HTML
// fragment rendered by the server) every few seconds while the tab is shown.
function poll(el) {
  const url = el.getAttribute("data-poll");
  let busy = false;
  async function refresh() {
    if (busy || document.visibilityState !== "visible") return;
    busy = true;
    try {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (r.redirected && new URL(r.url).pathname === "/ui/login") {
        window.location.reload();
        return;
      }
      if (r.ok) {
        const html = await r.text();
        if (html !== el.innerHTML) el.innerHTML = html;
      }
    } catch (e) {
      // the next tick tries again
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, 2000);
}

// <input type=file data-fill="ID"> copies the chosen file's text into the
// textarea ID, so an inventory file can be checked before it is sent.
function fill(input) {
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    const target = document.getElementById(input.getAttribute("data-fill"));
    if (!file || !target) return;
    file.text().then((t) => { target.value = t; });
  });
}

// A form submitted twice would deploy twice: disable its button once sent.
function once(form) {
  form.addEventListener("submit", () => {
    form.querySelectorAll("button[type=submit]").forEach((b) => {
      setTimeout(() => { b.disabled = true; }, 0);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach(poll);
  document.querySelectorAll("input[data-fill]").forEach(fill);
  document.querySelectorAll("form.deploy").forEach(once);
});
