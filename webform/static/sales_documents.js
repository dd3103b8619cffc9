/* Leadline back office: the line editor of quotes, orders and invoices (no framework, no inline script).
   As the form changes it posts the unsaved form to the editor's totals address (data-totals) and shows the block
   the store computed — no arithmetic here. "Add a line" copies the last row, "Remove" drops one, and typing in a
   product field lists the matching products (data-suggest, an HTML fragment the server escaped). The overall
   discount, shipping and adjustment fields sit outside the replaced block, so they keep their focus as you type.
   Without this script the form's own buttons do the same by reloading the page. */
(function () {
  "use strict";
  var form = document.querySelector("form.editor[data-totals]");
  if (!form) { return; }
  var body = form.querySelector("[data-lines] tbody");
  var block = form.querySelector("[data-totals-block]");
  var status = form.querySelector("[data-totals-status]");
  var timer = null, asked = 0, sending = false;

  function refresh() {
    var ticket = ++asked;
    var data = new FormData(form);
    status.textContent = status.dataset.busy || "…";
    fetch(form.dataset.totals, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (ticket !== asked) { return; }
        status.textContent = "";
        if (html !== null) { block.innerHTML = html; }
      })
      .catch(function () { status.textContent = ""; });
  }
  function later() { if (sending) { return; } clearTimeout(timer); timer = setTimeout(refresh, 300); }

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("[data-line]")); }
  function renumber() {
    rows().forEach(function (row, index) {
      row.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/^lines-\d+-/, "lines-" + index + "-")); }
        });
      });
    });
  }
  function showRemove() {
    rows().forEach(function (row) { var b = row.querySelector("[data-remove-line]"); if (b) { b.hidden = false; } });
  }
  function addLine() {
    var last = rows()[rows().length - 1];
    var copy = last.cloneNode(true);
    copy.querySelectorAll("input").forEach(function (input) { input.value = ""; input.removeAttribute("aria-invalid"); });
    copy.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
    copy.querySelectorAll(".field__error").forEach(function (p) { p.remove(); });
    copy.querySelectorAll(".field--invalid").forEach(function (c) { c.classList.remove("field--invalid"); });
    copy.querySelectorAll(".suggest").forEach(function (s) { s.hidden = true; s.innerHTML = ""; });
    body.appendChild(copy);
    renumber();
    copy.querySelector("[data-product-input]").focus();
  }
  function removeLine(row) {
    if (rows().length > 1) { row.remove(); renumber(); } else {
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    }
    later();
  }

  form.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) { return; }
    if (target.hasAttribute("data-add-line")) { event.preventDefault(); addLine(); }
    else if (target.hasAttribute("data-recalculate")) { event.preventDefault(); refresh(); }
    else if (target.hasAttribute("data-remove-line")) { event.preventDefault(); removeLine(target.closest("[data-line]")); }
    else if (target.hasAttribute("data-product")) {
      event.preventDefault();
      var cell = target.closest(".lines__pick");
      var input = cell.querySelector("[data-product-input]");
      input.value = target.dataset.product;
      cell.querySelector(".suggest").hidden = true;
      var quantity = target.closest("[data-line]").querySelector("input[name$='-quantity']");
      if (quantity && !quantity.value) { quantity.value = "1"; }
      (quantity || input).focus();
      refresh();
    }
  });
  form.addEventListener("change", later);
  // Saving: no totals asked for any more (leaving a field fires "change" just before the click that saves; a
  // totals request racing the save could write the session back as it was before the save's message was shown).
  form.addEventListener("submit", function () { sending = true; clearTimeout(timer); asked++; });
  window.addEventListener("pageshow", function () { sending = false; });
  form.addEventListener("input", function (event) {
    if (event.target.hasAttribute("data-product-input")) { suggest(event.target); } else { later(); }
  });
  form.addEventListener("keydown", function (event) {
    var pick = event.target.closest(".lines__pick");
    if (event.key === "Escape") {
      form.querySelectorAll(".lines__suggest").forEach(function (s) { s.hidden = true; });
      if (pick) { pick.querySelector("[data-product-input]").focus(); }
      return;
    }
    if (!pick || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) { return; }
    var options = Array.prototype.slice.call(pick.querySelectorAll(".suggest:not([hidden]) [data-product]"));
    if (!options.length) { return; }
    event.preventDefault();
    var at = options.indexOf(document.activeElement);
    if (event.key === "ArrowDown") { options[Math.min(at + 1, options.length - 1)].focus(); }
    else if (at > 0) { options[at - 1].focus(); } else { pick.querySelector("[data-product-input]").focus(); }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest(".lines__pick")) {
      form.querySelectorAll(".lines__suggest").forEach(function (s) { s.hidden = true; });
    }
  });

  var suggestTimer = null;
  function suggest(input) {
    clearTimeout(suggestTimer);
    var panel = input.closest(".lines__pick").querySelector(".suggest");
    suggestTimer = setTimeout(function () {
      var term = input.value.trim();
      if (!term) { panel.hidden = true; return; }
      fetch(form.dataset.suggest + "?q=" + encodeURIComponent(term), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (term !== input.value.trim()) { return; }
          panel.innerHTML = html; panel.hidden = !html.trim();
        })
        .catch(function () { panel.hidden = true; });
    }, 250);
  }
  showRemove();
}());
