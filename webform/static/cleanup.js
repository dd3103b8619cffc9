/* Leadline back office: the merge page (webform/staff/cleanup, templates/staff/cleanup/merge.html).
   Choosing another record to keep moves each field's preselected value with it — the kept record's value when it
   has one, else the first record's that does — for the fields not yet chosen by hand. The column of the record
   to keep is marked (.merge__col--keep). Without script the page works the same; only the preselection stays put. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-merge]");
  if (!form) { return; }
  var survivors = form.querySelectorAll("input[data-survivor]");

  function keepColumn(recordId) {
    form.querySelectorAll("td").forEach(function (cell) {
      var input = cell.querySelector("input[type=radio]");
      cell.classList.toggle("merge__col--keep", !!input && input.value === recordId);
    });
  }

  function preselect(recordId) {
    form.querySelectorAll("tr[data-field]").forEach(function (row) {
      if (row.dataset.chosen) { return; }
      var radios = Array.prototype.slice.call(row.querySelectorAll("input[data-record]"));
      var own = radios.filter(function (r) { return r.value === recordId && !r.hasAttribute("data-empty"); })[0];
      var first = radios.filter(function (r) { return !r.hasAttribute("data-empty"); })[0];
      var pick = own || first || radios[0];
      if (pick) { pick.checked = true; }
    });
  }

  form.querySelectorAll("tr[data-field] input[data-record]").forEach(function (radio) {
    radio.addEventListener("change", function () { radio.closest("tr").dataset.chosen = "1"; });
  });
  survivors.forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) { return; }
      preselect(radio.value);
      keepColumn(radio.value);
    });
    if (radio.checked) { keepColumn(radio.value); }
  });
}());
