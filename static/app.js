// Behaviour lives here, not in attributes: the CSP forbids inline script.
(function () {
  "use strict";

  function toast(level, message) {
    var area = document.getElementById("toasts");
    if (!area || !message) return;
    var el = document.createElement("div");
    el.className = "toast " + (level || "info");
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.textContent = message;
    area.appendChild(el);
    setTimeout(function () { el.classList.add("leaving"); }, 4500);
    setTimeout(function () { el.remove(); }, 5000);
  }

  // Servers send {"toast": {"level": "...", "message": "..."}} in HX-Trigger.
  document.addEventListener("toast", function (e) {
    var d = e.detail || {};
    toast(d.level, d.message);
  });

  // The header search popup closes on Escape or a click elsewhere.
  function closeSearch() {
    var popup = document.getElementById("search-results");
    if (popup) popup.innerHTML = "";
  }
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  document.addEventListener("keydown", function (e) {
    var box = document.getElementById("global-search");
    var input = box && box.querySelector("input");
    if (e.key === "Escape") {
      // Back to the box from the results, so the next keystroke searches.
      if (input && box.contains(document.activeElement)) input.focus();
      closeSearch();
      return;
    }
    // "/" anywhere outside a field jumps to the header search.
    if (e.key === "/" && input && !typing(document.activeElement) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      input.focus();
      input.select();
      e.preventDefault();
      return;
    }
    // Arrow keys walk from the search box through the results.
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    if (!box || !box.contains(document.activeElement)) return;
    var items = Array.prototype.slice.call(box.querySelectorAll("#search-results a"));
    if (!items.length) return;
    var at = items.indexOf(document.activeElement);
    var next = e.key === "ArrowDown" ? at + 1 : at - 1;
    if (next < 0) {
      box.querySelector("input").focus();
    } else {
      items[Math.min(next, items.length - 1)].focus();
    }
    e.preventDefault();
  });
  document.addEventListener("click", function (e) {
    var box = document.getElementById("global-search");
    if (box && !box.contains(e.target)) closeSearch();
  });

  // A request that never reached the server.
  document.addEventListener("htmx:sendError", function () {
    toast("error", document.documentElement.lang === "fr" ? "Serveur injoignable." : "Server unreachable.");
  });
})();
