/* Leadline back office: a list's tools (webform/templates/staff/_list.html), on every list that has them.
   The saved-filter bar's panels (<details class="listtools__pop">) close on Escape, which returns focus to them,
   or on a click elsewhere; opening one puts the cursor in its first field.
   The rows' checkboxes join the bulk form (form="bulk-form"); "select all on this page" (#select-page) ticks them
   all, and shows as mixed when only some are; the bar says how many are selected (data-none / data-some, with
   {count}) and its buttons wait for a selection; a button with data-confirm asks first. Without script the
   forms work as they are: the server answers "select at least one row" for an empty selection. */
(function () {
  "use strict";
  function openPanels() { return document.querySelectorAll("details.listtools__pop[open]"); }
  document.addEventListener("click", function (event) {
    openPanels().forEach(function (pop) { if (!pop.contains(event.target)) { pop.open = false; } });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    openPanels().forEach(function (pop) { pop.open = false; pop.querySelector("summary").focus(); });
  });
  document.querySelectorAll("details.listtools__pop").forEach(function (pop) {
    pop.addEventListener("toggle", function () {
      var field = pop.open && pop.querySelector("input:not([type=hidden])");
      if (field) { field.focus(); }
    });
  });

  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = document.getElementById("select-page");
  var count = form.querySelector("[data-bulk-count]");
  var buttons = form.querySelectorAll("[data-bulk-action]");

  function boxes() { return document.querySelectorAll("input[type=checkbox][name=ids][form=bulk-form]"); }

  function sync() {
    var ticked = 0;
    var list = boxes();
    list.forEach(function (box) {
      if (box.checked) { ticked += 1; }
      var row = box.closest("tr");
      if (row) { row.classList.toggle("is-selected", box.checked); }
    });
    if (all) {
      all.checked = list.length > 0 && ticked === list.length;
      all.indeterminate = ticked > 0 && ticked < list.length;
    }
    if (count) {
      count.textContent = ticked ? count.dataset.some.replace("{count}", String(ticked)) : count.dataset.none;
      count.classList.toggle("bulkbar__count--some", ticked > 0);
    }
    form.classList.toggle("bulkbar--active", ticked > 0);
    buttons.forEach(function (button) { button.setAttribute("aria-disabled", ticked ? "false" : "true"); });
  }

  if (all) {
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      sync();
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[name=ids][form=bulk-form]")) { sync(); }
  });
  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-bulk-action]");
    if (!button) { return; }
    if (button.getAttribute("aria-disabled") === "true") { event.preventDefault(); return; }
    var question = button.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  sync();
}());
