/* Leadline back office: the agenda (webform/staff/agenda/templates/staff/agenda/agenda.html). No framework, no
   inline script. It places each event on its hours (`agenda--timed`; the server said its minute, length and lane),
   marks the time now, lets an event be dragged to another day or time (snapped to 15 minutes) and a task to
   another day, and posts the move with the page's CSRF token; the server answers in JSON. A click on an empty
   hour opens a new event there. Without this script each day lists its events, and each event's own form moves
   it (the keyboard's way too). On the new-event form it offers records as you type a related record. */
(function () {
  "use strict";
  var SNAP = 15, DAY = 24 * 60, THRESHOLD = 5;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(minute) { return pad(Math.floor(minute / 60)) + ":" + pad(minute % 60); }

  /* -- the related record's suggestions (the new-event form) ------------------------------------------- */
  function suggestRecords(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null, asked = "";
    if (!list) { return; }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var term = input.value.trim();
        if (term.length < 2 || term === asked || /^[A-Za-z]{3}\d+$/.test(term)) { return; }
        asked = term;
        fetch(input.dataset.suggest + "?q=" + encodeURIComponent(term), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) {
            var found = new DOMParser().parseFromString(html, "text/html").querySelectorAll("a.suggest__item");
            list.textContent = "";
            Array.prototype.forEach.call(found, function (link) {
              if (link.classList.contains("suggest__all")) { return; }
              var option = document.createElement("option");
              option.value = decodeURIComponent(link.getAttribute("href").split("/").pop());
              option.label = (link.querySelector(".suggest__title") || link).textContent.trim() + " · " +
                ((link.querySelector(".suggest__sub") || {}).textContent || "").trim();
              list.appendChild(option);
            });
          })
          .catch(function () { list.textContent = ""; });
      }, 250);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest][list]"), suggestRecords);

  var agenda = document.getElementById("agenda");
  if (!agenda) { return; }
  var first = Number(agenda.dataset.first), last = Number(agenda.dataset.last), span = last - first;
  var status = document.getElementById("agenda-status");

  /* -- whose agenda: shown as soon as picked ------------------------------------------------------------- */
  var who = document.querySelector(".agenda-bar__who");
  if (who) {
    who.querySelector("button").hidden = true;
    who.querySelector("select").addEventListener("change", function () { who.submit(); });
  }

  /* -- events on their hours ------------------------------------------------------------------------------ */
  function percent(minutes) { return (minutes / span * 100) + "%"; }
  function place(event) {
    var minute = Number(event.dataset.minute), length = Number(event.dataset.length);
    var lane = Number(event.dataset.lane || 0), lanes = Number(event.dataset.lanes || 1);
    event.style.setProperty("--top", percent(minute - first));
    event.style.setProperty("--height", percent(Math.min(length, last - minute)));
    event.style.setProperty("--left", (lane / lanes * 100) + "%");
    event.style.setProperty("--width", (100 / lanes) + "%");
  }
  function events(body) { return Array.prototype.slice.call(body.querySelectorAll(".event")); }
  function relayout(body) {  /* overlapping events side by side: the server's rule (webform/staff/agenda/grid.py) */
    var sorted = events(body).sort(function (a, b) {
      return (a.dataset.minute - b.dataset.minute) || (b.dataset.length - a.dataset.length);
    });
    var cluster = [], ends = [], clusterEnd = -1;
    function close() { cluster.forEach(function (e) { e.dataset.lanes = ends.length; place(e); }); }
    sorted.forEach(function (event) {
      var minute = Number(event.dataset.minute), end = minute + Number(event.dataset.length), lane = 0;
      if (cluster.length && minute >= clusterEnd) { close(); cluster = []; ends = []; clusterEnd = -1; }
      while (lane < ends.length && ends[lane] > minute) { lane += 1; }
      ends[lane] = end;
      event.dataset.lane = lane;
      cluster.push(event);
      clusterEnd = Math.max(clusterEnd, end);
    });
    close();
  }
  agenda.classList.add("agenda--timed");
  Array.prototype.forEach.call(agenda.querySelectorAll(".event"), place);
  Array.prototype.forEach.call(agenda.querySelectorAll(".day__body[data-now]"), function (body) {
    var now = Number(body.dataset.now);
    if (now < first || now >= last) { return; }
    var line = document.createElement("div");
    line.className = "day__now";
    line.setAttribute("aria-hidden", "true");
    line.style.top = percent(now - first);
    body.appendChild(line);
  });

  function timed() {  /* a week drawn as a list (a phone) has nothing to drag onto */
    return getComputedStyle(agenda).display === "grid";
  }
  function visible(element) { return element.getClientRects().length > 0; }
  function targets(selector) {
    return Array.prototype.filter.call(agenda.querySelectorAll(selector), visible);
  }
  function under(list, x) {
    return list.filter(function (element) {
      var box = element.getBoundingClientRect();
      return x >= box.left && x < box.right;
    })[0] || null;
  }
  function say(text, kind) {
    status.textContent = text;
    var shown = document.getElementById("agenda-flash");
    if (!shown) {
      shown = document.createElement("p");
      shown.id = "agenda-flash";
      agenda.parentNode.insertBefore(shown, document.querySelector(".agenda-bar"));
    }
    shown.className = "flash flash--" + kind;
    shown.textContent = text;
  }

  function post(id, fields) {
    var body = new FormData();
    body.append("csrf_token", agenda.dataset.csrf);
    body.append("view", agenda.dataset.view);
    Object.keys(fields).forEach(function (key) { body.append(key, fields[key]); });
    return fetch(agenda.dataset.move.replace("/0/", "/" + id + "/"), {
      method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false }; }).then(function (answer) {
        if (!response.ok || !answer.ok) { throw new Error(answer.error || agenda.dataset.failedLabel); }
        return answer;
      });
    });
  }

  /* -- drag an event to another day or time, a task to another day -------------------------------------- */
  var drag = null, swallowClick = false;

  function start(item, pointer) {
    var isTask = item.dataset.kind === "task";
    var home = item.parentNode;
    var box = item.getBoundingClientRect();
    drag = {
      item: item, task: isTask, home: home, next: item.nextSibling, x: pointer.clientX, y: pointer.clientY,
      grab: pointer.clientY - box.top, moved: false, minute: Number(item.dataset.minute), target: null,
      lane: item.dataset.lane, lanes: item.dataset.lanes
    };
  }

  function move(pointer) {
    if (!drag) { return; }
    if (!drag.moved) {
      if (Math.abs(pointer.clientX - drag.x) + Math.abs(pointer.clientY - drag.y) < THRESHOLD || !timed()) { return; }
      drag.moved = true;
      drag.item.classList.add("is-dragging");
      document.body.classList.add("agenda-dragging");
      if (window.getSelection) { window.getSelection().removeAllRanges(); }
    }
    pointer.preventDefault();
    if (drag.target) { drag.target.classList.remove("is-target"); }
    if (drag.task) {
      drag.target = under(targets(".day__tasks"), pointer.clientX);
      if (drag.target) { drag.target.classList.add("is-target"); drag.target.appendChild(drag.item); }
      return;
    }
    var body = under(targets(".day__body"), pointer.clientX);
    if (!body) { return; }
    drag.target = body;
    body.classList.add("is-target");
    var box = body.getBoundingClientRect();
    var length = Number(drag.item.dataset.length);
    var minute = first + (pointer.clientY - drag.grab - box.top) / box.height * span;
    minute = Math.round(minute / SNAP) * SNAP;
    minute = Math.max(first, Math.min(minute, Math.min(last, DAY) - Math.min(length, SNAP * 2)));
    drag.minute = minute;
    body.querySelector(".day__events").appendChild(drag.item);
    drag.item.dataset.minute = minute;
    drag.item.dataset.lane = 0;
    drag.item.dataset.lanes = 1;
    place(drag.item);
    drag.item.querySelector(".event__time").textContent = clock(minute);
  }

  function undo(state, time) {
    state.home.insertBefore(state.item, state.next && state.next.parentNode === state.home ? state.next : null);
    if (!state.task) {
      state.item.dataset.minute = state.original;
      state.item.dataset.lane = state.lane;
      state.item.dataset.lanes = state.lanes;
      place(state.item);
      state.item.querySelector(".event__time").textContent = time;
    }
  }

  function drop() {
    if (!drag) { return; }
    var state = drag;
    drag = null;
    if (!state.moved) { return; }
    swallowClick = true;
    setTimeout(function () { swallowClick = false; }, 0);
    document.body.classList.remove("agenda-dragging");
    state.item.classList.remove("is-dragging");
    if (state.target) { state.target.classList.remove("is-target"); }
    var time = state.task ? "" : state.item.querySelector(".event__time").dataset.shown;
    var day = state.target ? state.target.dataset.date : null;
    var homeDay = state.task ? state.home.dataset.date : state.home.parentNode.dataset.date;
    if (!day || (day === homeDay && (state.task || state.minute === state.original))) { undo(state, time); return; }
    var fields = state.task ? { date: day } : { start: day + "T" + clock(state.minute) };
    state.item.classList.add("is-saving");
    post(state.item.dataset.id, fields).then(function (answer) {
      state.item.classList.remove("is-saving");
      if (!state.task) {
        var label = state.item.querySelector(".event__time");
        label.textContent = answer.time;
        label.dataset.shown = answer.time;
        relayout(state.target);
        relayout(state.home.parentNode);
      }
      say(answer.message || agenda.dataset.movedLabel, "success");
    }).catch(function (error) {
      state.item.classList.remove("is-saving");
      undo(state, time);
      if (!state.task) { relayout(state.home.parentNode); }
      say(error.message || agenda.dataset.failedLabel, "error");
    });
  }

  Array.prototype.forEach.call(agenda.querySelectorAll(".event__time"), function (label) {
    label.dataset.shown = label.textContent;
  });
  agenda.addEventListener("pointerdown", function (pointer) {
    var item = pointer.target.closest("[data-movable]");
    if (!item || pointer.button !== 0 || !timed()) { return; }
    if (pointer.pointerType === "mouse") { pointer.preventDefault(); }  /* no text selected on the way */
    start(item, pointer);
    if (!drag.task) { drag.original = Number(item.dataset.minute); }
  });
  document.addEventListener("pointermove", move);
  document.addEventListener("pointerup", drop);
  document.addEventListener("pointercancel", function () {
    if (drag && drag.moved) {
      var state = drag;
      drag = null;
      document.body.classList.remove("agenda-dragging");
      state.item.classList.remove("is-dragging");
      undo(state, state.task ? "" : state.item.querySelector(".event__time").dataset.shown);
    }
    drag = null;
  });
  agenda.addEventListener("dragstart", function (event) { event.preventDefault(); });  /* not the link's own drag */
  agenda.addEventListener("click", function (event) {
    if (swallowClick) { event.preventDefault(); event.stopPropagation(); return; }
    var slots = event.target.closest(".day__slots");
    if (!slots || !timed()) { return; }
    var body = slots.parentNode, box = body.getBoundingClientRect();
    var minute = first + Math.floor((event.clientY - box.top) / box.height * span / 30) * 30;
    window.location.href = agenda.dataset.new + "?date=" + body.dataset.date + "&time=" + clock(minute);
  }, true);
}());
