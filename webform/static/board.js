/* Leadline's pipeline board (staff/board/board.html): drag and drop on top of links and forms that work without it.
   - A card's Move to… menu (li.deal details.deal__menu) links to the deal's move page; when it opens it is filled
     from the page's one <template id="board-moves"> instead: the card's move as its action, a button per stage
     but the card's own, the focus on the first one (Escape closes it: staff.js returns the focus to it).
   - A card dropped on another column (section.board-col[data-stage]) posts the move by fetch (X-Requested-With:
     fetch, the template's CSRF token); the board then reloads for its counts and totals, or the card goes back
     and the message is read out (#board-status). With a mouse: HTML5 drag and drop. With a finger or a pen:
     touch and hold the card (HOLD_MS) until it lifts, then drag it (pointer events); moving sooner scrolls as
     usual. Near an edge of the board, the columns (or the page) scroll.
   - A lost column (data-lost), or a lost stage's button in a card's menu, opens the lost-reason dialog
     (#lost-dialog): a plain form posted to the card's move, back to the board; closing it returns the focus.
   - A column's "Show more" (a[data-more]) fetches its next cards into the column.
   - The filters (form[data-autosubmit]) apply as soon as a select changes. */
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  var moves = document.getElementById("board-moves");
  if (!board || !moves) { return; }
  var status = document.getElementById("board-status");
  var dialog = document.getElementById("lost-dialog");
  var scroller = board.querySelector(".board__columns");
  var template = moves.content.querySelector("form");
  var HOLD_MS = 350, SLOP_PX = 10, EDGE_PX = 48;
  var dragged = null, touch = null, quietUntil = 0, returnTo = null;

  function say(message) { status.textContent = message; }
  function columnOf(node) { return node && node.closest ? node.closest(".board-col") : null; }
  function moveAction(card) {
    return template.getAttribute("action").replace("NUMBER", encodeURIComponent(card.dataset.number));
  }

  /* The column under a point: the one hit, else the one whose width holds it (a short column ends above). */
  function columnAt(x, y) {
    var hit = columnOf(document.elementFromPoint(x, y));
    var box = scroller.getBoundingClientRect();
    if (hit || y < box.top || y > box.bottom) { return hit; }
    return Array.prototype.find.call(board.querySelectorAll(".board-col"), function (column) {
      var edges = column.getBoundingClientRect();
      return x >= edges.left && x <= edges.right;
    }) || null;
  }
  function highlight(column, card) {
    board.querySelectorAll(".board-col--over").forEach(function (c) {
      if (c !== column) { c.classList.remove("board-col--over"); }
    });
    if (column && column !== columnOf(card)) { column.classList.add("board-col--over"); }
  }

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // A card's menu, filled from the template when it first opens (by mouse, finger or keyboard).
  board.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.open || !menu.matches || !menu.matches("details.deal__menu")) { return; }
    var card = menu.closest(".deal");
    if (!menu.dataset.filled) {
      var form = template.cloneNode(true), column = columnOf(card);
      form.action = moveAction(card);
      form.querySelectorAll("button[name=stage]").forEach(function (button) {
        if (column && button.value === column.dataset.stage) { button.remove(); }
      });
      menu.querySelector(".menu__panel").replaceWith(form);
      menu.dataset.filled = "1";
    }
    var first = menu.querySelector(".menu__panel button");
    if (first) { first.focus(); }
  }, true);

  function openLost(card, stage) {
    var form = dialog.querySelector("form");
    form.action = moveAction(card);
    form.elements.stage.value = stage;
    dialog.querySelector("[data-lost-deal]").textContent = card.querySelector(".deal__title").textContent.trim();
    returnTo = card.querySelector(".deal__menu > summary");
    dialog.showModal();
    form.elements.lost_reason.focus();
  }
  if (dialog) {
    dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () {
      if (returnTo && returnTo.isConnected) { returnTo.focus(); }
      returnTo = null;
    });
  }

  function post(card, column) {
    var home = card.parentNode, after = card.nextSibling;
    var data = new FormData();
    data.set("csrf_token", template.querySelector("input[name=csrf_token]").value);
    data.set("stage", column.dataset.stage);
    column.querySelector(".board-col__cards").prepend(card);
    fetch(moveAction(card), {
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

  function drop(card, column) {
    if (!column || column === columnOf(card)) { return; }
    if (column.hasAttribute("data-lost")) { openLost(card, column.dataset.stage); return; }
    post(card, column);
  }

  // A mouse: HTML5 drag and drop.
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
    highlight(null, null);
  });
  board.addEventListener("dragover", function (event) {
    var column = columnAt(event.clientX, event.clientY);
    if (!dragged || !column) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    highlight(column, dragged);
  });
  board.addEventListener("drop", function (event) {
    var column = columnAt(event.clientX, event.clientY), card = dragged;
    if (!card || !column) { return; }
    event.preventDefault();
    highlight(null, null);
    drop(card, column);
  });

  // A finger or a pen: touch and hold a card until it lifts, then drag it; moving sooner is a scroll.
  function lift() {
    var card = touch.card, box = card.getBoundingClientRect();
    var ghost = card.cloneNode(true);
    touch.live = true;
    touch.dx = touch.x - box.left;
    touch.dy = touch.y - box.top;
    ghost.classList.add("board__ghost");
    ghost.removeAttribute("data-number");
    ghost.removeAttribute("draggable");
    ghost.querySelectorAll("details").forEach(function (menu) { menu.open = false; });
    ghost.setAttribute("aria-hidden", "true");
    ghost.style.width = box.width + "px";
    document.body.append(ghost);
    touch.ghost = ghost;
    card.classList.add("deal--dragging");
    board.classList.add("board--dragging");
    follow(touch.x, touch.y);
    touch.frame = window.requestAnimationFrame(edgeScroll);
  }
  function follow(x, y) {
    touch.x = x;
    touch.y = y;
    touch.ghost.style.transform = "translate(" + (x - touch.dx) + "px, " + (y - touch.dy) + "px) rotate(2deg)";
    highlight(columnAt(x, y), touch.card);
  }
  function edgeScroll() {
    if (!touch || !touch.live) { return; }
    var box = scroller.getBoundingClientRect();
    var left = Math.max(box.left, 0), right = Math.min(box.right, window.innerWidth);
    var sideways = touch.x < left + EDGE_PX ? touch.x - left - EDGE_PX : Math.max(0, touch.x - right + EDGE_PX);
    var down = touch.y < EDGE_PX ? touch.y - EDGE_PX : Math.max(0, touch.y - window.innerHeight + EDGE_PX);
    if (sideways) { scroller.scrollLeft += Math.round(sideways / 3); }
    if (down) { window.scrollBy(0, Math.round(down / 3)); }
    if (sideways || down) { highlight(columnAt(touch.x, touch.y), touch.card); }
    touch.frame = window.requestAnimationFrame(edgeScroll);
  }
  function settle() {
    var ended = touch;
    touch = null;
    window.clearTimeout(ended.timer);
    window.cancelAnimationFrame(ended.frame);
    if (ended.ghost) { ended.ghost.remove(); }
    ended.card.classList.remove("deal--dragging");
    ended.card.draggable = true;
    board.classList.remove("board--dragging", "board--holding");
    highlight(null, null);
    return ended;
  }

  board.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse" || !event.isPrimary || touch) { return; }
    var card = event.target.closest(".deal");
    if (!card || !card.dataset.number || event.target.closest("details.deal__menu")) { return; }
    touch = { card: card, id: event.pointerId, x: event.clientX, y: event.clientY, live: false };
    card.draggable = false;  // the browser's own long-press drag would race this one
    board.classList.add("board--holding");
    touch.timer = window.setTimeout(lift, HOLD_MS);
  });
  board.addEventListener("pointermove", function (event) {
    if (!touch || event.pointerId !== touch.id) { return; }
    if (touch.live) {
      follow(event.clientX, event.clientY);
    } else if (Math.abs(event.clientX - touch.x) > SLOP_PX || Math.abs(event.clientY - touch.y) > SLOP_PX) {
      settle();  // it moved before it lifted: a scroll, the browser's
    }
  });
  board.addEventListener("pointerup", function (event) {
    if (!touch || event.pointerId !== touch.id) { return; }
    var ended = settle();
    if (!ended.live) { return; }  // a tap: the browser's click
    quietUntil = Date.now() + 500;
    drop(ended.card, columnAt(event.clientX, event.clientY));
  });
  board.addEventListener("pointercancel", function (event) {
    if (touch && event.pointerId === touch.id) { settle(); }
  });
  // While a card is held, the finger drags it: no scroll, no callout menu, no click on its link after.
  board.addEventListener("touchmove", function (event) {
    if (touch && touch.live) { event.preventDefault(); }
  }, { passive: false });
  board.addEventListener("contextmenu", function (event) {
    if (touch) { event.preventDefault(); }
  });
  board.addEventListener("click", function (event) {
    if (Date.now() < quietUntil) { event.preventDefault(); event.stopPropagation(); }
  }, true);

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
