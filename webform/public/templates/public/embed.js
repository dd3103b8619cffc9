/* Leadline web form. Paste one tag where the form should appear:
 *   <script src="https://crm.example.com/forms/FORM_ID/embed.js" async></script>
 * On other pages of the site, <script src="…/embed.js" data-mode="track" async></script> only
 * remembers where the visitor first came from (utm_*, gclid, fbclid, referrer, landing page). */
(function () {
  "use strict";
  var CONFIG = {{ config|tojson }};
  var script = document.currentScript;
  var FIRST = "leadline.first_touch", LAST = "leadline.last_touch";

  function store(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }
  function readJSON(key) {
    var ls = store("localStorage");
    try { return ls ? JSON.parse(ls.getItem(key) || "null") : null; } catch (e) { return null; }
  }
  function writeJSON(key, value) {
    var ls = store("localStorage");
    try { if (ls) { ls.setItem(key, JSON.stringify(value)); } } catch (e) { /* private mode */ }
  }
  function currentTouch() {
    var params = new URLSearchParams(window.location.search), touch = {}, tagged = false;
    CONFIG.attribution.forEach(function (name) {
      var v = params.get(name);
      if (v) { touch[name] = v.slice(0, 2000); tagged = true; }
    });
    var ref = document.referrer || "";
    var external = ref && ref.indexOf(window.location.origin) !== 0;
    if (external) { touch.referrer = ref.slice(0, 2000); }
    touch.landing_page = window.location.href.slice(0, 2000);
    return { touch: touch, fresh: tagged || external };
  }
  function remember() {
    var now = currentTouch();
    if (!readJSON(FIRST)) { writeJSON(FIRST, now.touch); }
    if (now.fresh || !readJSON(LAST)) { writeJSON(LAST, now.touch); }
  }
  remember();
  if (script && script.getAttribute("data-mode") === "track") { return; }

  var M = CONFIG.messages;
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function markRequired(label) {
    label.appendChild(document.createTextNode(" "));
    label.appendChild(el("span", { "class": "ll-req", "aria-hidden": "true" }, "*"));
  }
  function renewToken() {
    fetch(CONFIG.tokenUrl, { mode: "cors", credentials: "omit" }).then(function (response) {
      return response.ok ? response.json() : {};
    }).then(function (data) { if (data.token) { CONFIG.token = data.token; } }, function () { /* keep the old one */ });
  }
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  var host = el("div", { "class": "leadline-form", lang: CONFIG.htmlLang });
  var target = script && script.getAttribute("data-target") && document.querySelector(script.getAttribute("data-target"));
  if (target) { target.appendChild(host); } else if (script && script.parentNode) { script.parentNode.insertBefore(host, script.nextSibling); } else { document.body.appendChild(host); }

  var style = el("style", {}, ".leadline-form form{display:grid;gap:14px;max-width:560px;font:inherit}" +
    ".leadline-form label{display:block;font-weight:600;margin-bottom:4px}" +
    ".leadline-form input[type=text],.leadline-form input[type=email],.leadline-form input[type=tel],.leadline-form input[type=url],.leadline-form select,.leadline-form textarea{width:100%;box-sizing:border-box;padding:8px 10px;border:1px solid #9aa5b1;border-radius:6px;font:inherit}" +
    ".leadline-form .ll-req{color:#c81e1e}.leadline-form .ll-error{color:#c81e1e;margin:4px 0 0}.leadline-form .ll-invalid input,.leadline-form .ll-invalid textarea,.leadline-form .ll-invalid select{border-color:#c81e1e}" +
    ".leadline-form .ll-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}" +
    ".leadline-form button{justify-self:start;padding:10px 24px;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:6px;cursor:pointer}" +
    ".leadline-form button[disabled]{opacity:.6;cursor:wait}.leadline-form .ll-alert{color:#9b1c1c}");
  host.appendChild(style);

  var form = el("form", { novalidate: "novalidate" });
  var alert = el("p", { "class": "ll-alert", role: "alert", hidden: "hidden" });
  form.appendChild(alert);  // the summary comes first, above the fields, as on the hosted page
  var boxes = {};
  CONFIG.fields.forEach(function (f) {
    var id = "ll-" + CONFIG.form.slice(0, 8) + "-" + f.name;
    var wrap = el("div", { "class": "ll-field" });
    var label = el("label", { "for": id }, f.label);
    if (f.required) { markRequired(label); }
    var input;
    if (f.type === "textarea") {
      input = el("textarea", { id: id, name: f.name, rows: "5" });
    } else if (f.type === "select") {
      input = el("select", { id: id, name: f.name });
      input.appendChild(el("option", { value: "" }, ""));
      (f.choices || []).forEach(function (c) { input.appendChild(el("option", { value: c }, c)); });
    } else {
      input = el("input", { id: id, name: f.name, type: { email: "email", tel: "tel", url: "url" }[f.type] || "text" });
    }
    if (f.required) { input.setAttribute("required", "required"); }
    if (f.max_length && f.type !== "select") { input.setAttribute("maxlength", String(f.max_length)); }
    var error = el("p", { "class": "ll-error", id: id + "-error", hidden: "hidden" });
    wrap.appendChild(label); wrap.appendChild(input); wrap.appendChild(error);
    form.appendChild(wrap);
    boxes[f.name] = { wrap: wrap, input: input, error: error };
  });
  if (CONFIG.consent) {
    var cwrap = el("div", { "class": "ll-field ll-consent" });
    var clabel = el("label", {});
    var cbox = el("input", { type: "checkbox", name: "consent", value: "on", required: "required" });
    clabel.appendChild(cbox); clabel.appendChild(document.createTextNode(" " + CONFIG.consent)); markRequired(clabel);
    var cerr = el("p", { "class": "ll-error", id: "ll-" + CONFIG.form.slice(0, 8) + "-consent-error", hidden: "hidden" });
    cwrap.appendChild(clabel); cwrap.appendChild(cerr); form.appendChild(cwrap);
    boxes.consent = { wrap: cwrap, input: cbox, error: cerr };
  }
  var hp = el("div", { "class": "ll-hp", "aria-hidden": "true" });
  hp.appendChild(el("input", { type: "text", name: CONFIG.honeypot, tabindex: "-1", autocomplete: "off" }));
  form.appendChild(hp);
  var button = el("button", { type: "submit" }, M.submit);
  form.appendChild(button);
  host.appendChild(form);

  var submissionKey = newKey();
  function showErrors(errors) {
    Object.keys(boxes).forEach(function (name) {
      var b = boxes[name], list = errors[name];
      b.wrap.classList.toggle("ll-invalid", !!list);
      b.error.hidden = !list;
      b.error.textContent = list ? list.join(" ") : "";
      if (list) { b.input.setAttribute("aria-invalid", "true"); b.input.setAttribute("aria-describedby", b.error.id); }
      else { b.input.removeAttribute("aria-invalid"); }
    });
    var first = Object.keys(boxes).filter(function (n) { return errors[n]; })[0];
    if (first) { boxes[first].input.focus(); }
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = { _token: CONFIG.token, _submission: submissionKey };
    CONFIG.fields.forEach(function (f) { body[f.name] = boxes[f.name].input.value; });
    if (boxes.consent) { body.consent = boxes.consent.input.checked; }
    body[CONFIG.honeypot] = form.elements[CONFIG.honeypot].value;
    var last = readJSON(LAST) || currentTouch().touch;
    Object.keys(last).forEach(function (k) { body[k] = last[k]; });
    body._first_touch = readJSON(FIRST) || last;
    alert.hidden = true;
    button.disabled = true; button.textContent = M.sending;
    fetch(CONFIG.action, {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) { return { status: response.status, data: data }; });
    }).then(function (r) {
      button.disabled = false; button.textContent = M.submit;
      if (r.status === 201) {
        renewToken();  /* each token is good for one submission */
        var done = el("p", { "class": "ll-thanks", role: "status" }, CONFIG.thankYou);
        host.replaceChild(done, form);
        submissionKey = newKey();
      } else if (r.status === 422) {
        showErrors(r.data.errors || {});
        alert.textContent = M.fix_errors; alert.hidden = false;
      } else {
        alert.textContent = r.status === 429 ? M.too_many : (r.status === 413 ? M.too_large : (r.data.message || M.network_error));
        alert.hidden = false;
      }
    }, function () {
      button.disabled = false; button.textContent = M.submit;
      alert.textContent = M.network_error; alert.hidden = false;
    });
  });
}());
