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

  // ---- Confirmation dialog (replaces window.confirm) ----------------------
  // An element with hx-confirm (or data-confirm on a plain form) asks through
  // #confirm-dialog. Its data attributes add to the question:
  //   data-confirm-title, data-confirm-button, data-confirm-danger,
  //   data-confirm-warn (shown highlighted: "this is you", "last admin"),
  //   data-confirm-type (text to type before the button unlocks) and
  //   data-confirm-field (the form field that receives what was typed).
  function attr(el, name) {
    var holder = el.closest("[" + name + "]");
    return holder ? holder.getAttribute(name) : null;
  }
  function ask(el, question, proceed) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(question)) proceed("");
      return;
    }
    var title = document.getElementById("confirm-title");
    var ok = document.getElementById("confirm-ok");
    var warn = document.getElementById("confirm-warning");
    var typed = document.getElementById("confirm-typed");
    var input = typed.querySelector("input");
    title.textContent = attr(el, "data-confirm-title") || title.getAttribute("data-default");
    document.getElementById("confirm-message").textContent = question;
    ok.textContent = attr(el, "data-confirm-button") || ok.getAttribute("data-default");
    ok.classList.toggle("danger", attr(el, "data-confirm-danger") !== null);
    var warning = attr(el, "data-confirm-warn");
    warn.hidden = !warning;
    warn.textContent = warning || "";
    var expected = attr(el, "data-confirm-type");
    typed.hidden = !expected;
    input.value = "";
    if (expected) {
      var label = typed.querySelector("span");
      label.textContent = label.getAttribute("data-template").replace("{text}", expected);
    }
    function matches() {
      return !expected || input.value.trim().toLowerCase() === expected.trim().toLowerCase();
    }
    ok.disabled = !matches();
    input.oninput = function () { ok.disabled = !matches(); };
    dialog.onclose = function () {
      if (dialog.returnValue === "ok" && matches()) proceed(input.value.trim());
    };
    dialog.returnValue = "";
    dialog.showModal();
    (expected ? input : ok).focus();
  }
  function fillTyped(el, value) {
    var field = attr(el, "data-confirm-field");
    var form = el.closest("form");
    if (field && form && form.elements[field]) form.elements[field].value = value;
  }
  document.addEventListener("htmx:confirm", function (e) {
    if (!e.detail.question) return;
    e.preventDefault();
    var el = e.detail.elt;
    ask(el, e.detail.question, function (value) {
      fillTyped(el, value);
      e.detail.issueRequest(true);
    });
  });
  // Plain forms (no htmx) that ask first.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute("data-confirm") || form.dataset.confirmed) return;
    e.preventDefault();
    var submitter = e.submitter;
    ask(form, form.getAttribute("data-confirm"), function (value) {
      fillTyped(form, value);
      form.dataset.confirmed = "1";
      if (form.requestSubmit) form.requestSubmit(submitter || undefined); else form.submit();
    });
  });
  // Dialogs the server sends (bulk confirmations) open as they arrive.
  function openDialogs(root) {
    root = root || document;
    var list = Array.prototype.slice.call(root.querySelectorAll("dialog[data-open]"));
    if (root.matches && root.matches("dialog[data-open]")) list.push(root);
    list.forEach(function (d) {
      d.removeAttribute("data-open");
      if (!d.open && typeof d.showModal === "function") d.showModal();
      var first = d.querySelector("[autofocus], input:not([type=hidden]), button");
      if (first) first.focus();
      d.addEventListener("close", function () { d.remove(); });
      // A confirmed form posts normally; a download leaves the page in
      // place, so the dialog closes once the form is on its way.
      var form = d.querySelector("form");
      if (form) form.addEventListener("submit", function () { setTimeout(function () { d.close(); }, 0); });
    });
  }
  document.addEventListener("click", function (e) {
    var closer = e.target.closest && e.target.closest("[data-close-dialog]");
    if (closer) {
      var d = closer.closest("dialog");
      if (d) { e.preventDefault(); d.close(); }
    }
  });

  // ---- Data tables --------------------------------------------------------
  function boxes(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=ids]"));
  }
  function plural(el, n) {
    var one = el.getAttribute("data-one"), other = el.getAttribute("data-other");
    // French and English agree for n >= 1: singular only for one.
    return (n === 1 ? one : other).replace("{n}", n.toLocaleString(document.documentElement.lang));
  }
  // The selection bar shows only while rows are selected, with the count.
  function syncSelection(form) {
    var bar = form.querySelector("[data-selection-bar]");
    if (!bar) return;
    var all = boxes(form);
    var chosen = all.filter(function (b) { return b.checked; }).length;
    var matching = form.querySelector("[data-select-matching]");
    bar.hidden = chosen === 0 && !(matching && matching.checked);
    var count = bar.querySelector("[data-selected-count]");
    // With "all matching" ticked the action covers every match, not the page.
    if (count) count.textContent = matching && matching.checked ? count.getAttribute("data-all") : plural(count, chosen);
    var page = form.querySelector("[data-select-page]");
    if (page) {
      page.checked = all.length > 0 && chosen === all.length;
      page.indeterminate = chosen > 0 && chosen < all.length;
    }
    form.classList.toggle("selecting", !bar.hidden);
  }
  function initTables(root) {
    var forms = (root || document).querySelectorAll("form:has([data-selection-bar])");
    Array.prototype.forEach.call(forms, syncSelection);
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    var form = t.closest && t.closest("form");
    if (t.matches("[data-select-page]") && form) {
      boxes(form).forEach(function (b) { b.checked = t.checked; });
      if (!t.checked) {
        var m = form.querySelector("[data-select-matching]");
        if (m) m.checked = false;
      }
      syncSelection(form);
    } else if ((t.name === "ids" || t.matches("[data-select-matching]")) && form) {
      if (t.matches("[data-select-matching]") && t.checked) {
        boxes(form).forEach(function (b) { b.checked = true; });
      }
      syncSelection(form);
    } else if (t.matches("select[data-pref]")) {
      savePref(t.getAttribute("data-pref"), [t.value]);
    } else if (form && form.hasAttribute("data-columns-form")) {
      var values = Array.prototype.map.call(
        form.querySelectorAll("input[name=value]:checked"), function (b) { return b.value; });
      savePref(form.elements.name.value, values).then(refreshResults);
    }
  });
  document.addEventListener("click", function (e) {
    var clear = e.target.closest && e.target.closest("[data-clear-selection]");
    if (!clear) return;
    var form = clear.closest("form");
    boxes(form).forEach(function (b) { b.checked = false; });
    var m = form.querySelector("[data-select-matching]");
    if (m) m.checked = false;
    syncSelection(form);
  });
  // Preferences (columns shown, page size) are kept server-side, per person.
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (err) { return {}; }
  }
  function savePref(name, values) {
    var body = new URLSearchParams();
    body.append("name", name);
    if (!values.length) body.append("value", "");
    values.forEach(function (v) { body.append("value", v); });
    var headers = csrfHeaders();
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    headers["HX-Request"] = "true";
    return fetch("/account/preferences", { method: "POST", headers: headers, body: body, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) toast("error", r.statusText); return r; });
  }
  function refreshResults() {
    var target = document.querySelector("[data-results]");
    if (target && window.htmx) htmx.ajax("GET", window.location.href, { target: target, swap: "innerHTML" });
  }
  // Only filled fields go into a list's URL (no "q=&status=&role=").
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.verb !== "get") return;
    var params = e.detail.parameters;
    var keys = params instanceof FormData ? Array.from(params.keys()) : Object.keys(params);
    // A field at its default (the remembered page size) says nothing either.
    var defaults = {};
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form");
    if (form) {
      Array.prototype.forEach.call(form.querySelectorAll("[data-default][name]"), function (f) {
        defaults[f.name] = f.getAttribute("data-default");
      });
    }
    keys.forEach(function (k) {
      var v = params instanceof FormData ? params.get(k) : params[k];
      if (v === "" || v === null || defaults[k] === v) {
        if (params instanceof FormData) params.delete(k); else delete params[k];
      }
    });
  });
  // A change that succeeded clears the refusals other cards still show:
  // they described a state of the page that is gone.
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail.xhr;
    if (!e.detail.successful || !xhr || xhr.status >= 300) return;
    var verb = (e.detail.requestConfig && e.detail.requestConfig.verb) || "get";
    if (verb === "get") return;
    Array.prototype.forEach.call(document.querySelectorAll(".card .form-error"), function (el) {
      if (!e.detail.target || !e.detail.target.contains(el)) el.remove();
    });
    Array.prototype.forEach.call(document.querySelectorAll('.card [aria-invalid="true"]'), function (el) {
      if (!e.detail.target || !e.detail.target.contains(el)) el.removeAttribute("aria-invalid");
    });
  });

  // After "next" or "previous" the table's top comes into view.
  document.addEventListener("htmx:afterSwap", function (e) {
    var trigger = e.detail.requestConfig && e.detail.requestConfig.elt;
    var id = trigger && trigger.getAttribute && trigger.getAttribute("data-scroll-to");
    var table = id && document.getElementById(id);
    if (table) table.scrollIntoView({ block: "start" });
  });
  // Narrow screens: the filters other than the search box fold behind a
  // button (the active ones stay visible as chips).
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-toggle-filters]");
    if (!toggle) return;
    var form = document.getElementById(toggle.getAttribute("data-toggle-filters"));
    if (!form) return;
    var open = form.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // Narrow screens: the navigation is a menu behind a button.
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // Recovery codes: copy, download as a text file, print.
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-copy], [data-download], [data-print]");
    if (!el) return;
    if (el.hasAttribute("data-print")) { window.print(); return; }
    if (el.hasAttribute("data-download")) {
      var blob = new Blob([el.getAttribute("data-download")], { type: "text/plain" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = el.getAttribute("data-filename") || "download.txt";
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
      return;
    }
    var source = document.querySelector(el.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.innerText.trim()).then(function () {
        toast("success", el.getAttribute("data-copied"));
      });
    }
  });
  document.addEventListener("htmx:load", function (e) {
    openDialogs(e.detail.elt);
    initTables(e.detail.elt.parentNode || document);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    initTables(document);
    openDialogs(document);
  });
})();
