/* Leadline's pipeline board (staff/board/board.html): drag and drop on top of forms that work without it.
   - A card (li.deal[draggable]) dropped on another column (section.board-col[data-stage]) posts the card's own
     Move to… form with that stage, by fetch (X-Requested-With: fetch, the form's CSRF token); the board then
     reloads for its counts and totals, or the card goes back and the message is read out (#board-status).
   - A lost column (data-lost), or a lost stage's button in a card's menu, opens the lost-reason dialog
     (#lost-dialog): a plain form posted to the card's move, back to the board.
   - A column's "Show more" (a[data-more]) fetches its next cards into the column.
   - The filters (form[data-autosubmit]) apply as soon as a select changes. */
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board) { return; }
  var status = document.getElementById("board-status");
  var dialog = document.getElementById("lost-dialog");
  var dragged = null;

  function say(message) { status.textContent = message; }
  function columnOf(node) { return node && node.closest ? node.closest(".board-col") : null; }
  function moveForm(card) { return card.querySelector(".deal__menu form"); }

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function openLost(card, stage) {
    var form = dialog.querySelector("form");
    form.action = moveForm(card).action;
    form.elements.stage.value = stage;
    dialog.querySelector("[data-lost-deal]").textContent = card.querySelector(".deal__title").textContent.trim();
    dialog.showModal();
    form.elements.lost_reason.focus();
  }
  if (dialog) {
    dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
  }

  function post(card, column) {
    var home = card.parentNode, after = card.nextSibling;
    var data = new FormData(moveForm(card));
    data.set("stage", column.dataset.stage);
    column.querySelector(".board-col__cards").prepend(card);
    fetch(moveForm(card).action, {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return null; }
      return response.json().catch(function () { return {}; }).then(function (answer) {
        throw new Error(answer.message || board.dataset.failed);
      });
    }).catch(function (error) {
      home.insertBefore(card, after);
      say(error.message || board.dataset.failed);
    });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".deal") : null;
    if (!card) { return; }
    dragged = card;
    card.classList.add("deal--dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.number);
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("deal--dragging"); }
    dragged = null;
    board.querySelectorAll(".board-col--over").forEach(function (c) { c.classList.remove("board-col--over"); });
  });
  board.addEventListener("dragover", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".board-col--over").forEach(function (c) {
      if (c !== column) { c.classList.remove("board-col--over"); }
    });
    column.classList.add("board-col--over");
  });
  board.addEventListener("drop", function (event) {
    var column = columnOf(event.target), card = dragged;
    if (!card || !column) { return; }
    event.preventDefault();
    column.classList.remove("board-col--over");
    if (column === columnOf(card)) { return; }
    if (column.hasAttribute("data-lost")) { openLost(card, column.dataset.stage); return; }
    post(card, column);
  });

  // A lost stage's button in a card's menu: the dialog rather than the lost reason's own page.
  board.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!dialog || !button || !button.hasAttribute("data-lost")) { return; }
    event.preventDefault();
    button.closest("details").open = false;
    openLost(button.closest(".deal"), button.value);
  });

  board.addEventListener("click", function (event) {
    var more = event.target.closest ? event.target.closest("a[data-more]") : null;
    if (!more) { return; }
    event.preventDefault();
    var item = more.closest("li");
    fetch(more.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(board.dataset.failed); }
        return response.text();
      }).then(function (html) {
        var list = item.parentNode;
        var holder = document.createElement("template");
        holder.innerHTML = html;
        var first = holder.content.querySelector(".deal");
        item.remove();
        list.append(holder.content);
        if (first) { var link = first.querySelector("a"); if (link) { link.focus(); } }
      }).catch(function () { window.location.href = more.href; });
  });
}());
