// The cluster view: polls this node's status every POLL_MS and redraws.
// Everything shown comes from /ui/api/status (the same document as
// /v1/status). The write rate is the growth of this node's applied vector
// (every transaction it applied, local or replicated) per second.
"use strict";

const POLL_MS = 500;           // ui.PollInterval
const RATE_POINTS = 120;        // one minute of write-rate samples
const EVENT_CLASS = {
  "peer-alive": "ok", "repaired": "ok", "member-joined": "ok", "joined": "ok",
  "peer-suspect": "warn", "repair-started": "info", "peer-behind-log": "warn", "catch-up-too-far": "warn",
  "peer-unreachable": "bad", "divergence": "bad", "repair-aborted": "bad", "buffer-full": "bad",
  "clock-refused": "bad", "message-refused": "bad", "member-left": "info", "member-removed": "bad",
};

const $ = (id) => document.getElementById(id);
let last = null;               // {t, total} of the previous sample
const rates = [];              // writes/s samples, oldest first
const seenEvents = new Set();  // events already listed, by their identity
let failures = 0;

function sum(vec) {
  let s = 0;
  for (const k in vec || {}) s += vec[k];
  return s;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    if (k === "class") e.className = attrs[k];
    else if (k === "style") e.style.cssText = attrs[k];
    else e.setAttribute(k, attrs[k]);
  }
  for (const c of children) e.append(c);
  return e;
}

function bar(fraction, cls) {
  const b = el("div", { class: "bar " + (cls || "") });
  b.append(el("i", { style: "width:" + Math.max(0, Math.min(1, fraction)) * 100 + "%" }));
  return b;
}

function drawMembers(st) {
  const mine = sum(st.applied);
  const rows = (st.members || []).map((m) => {
    const applied = m.state === "self" ? mine : sum(m.applied);
    const frac = mine === 0 ? 1 : applied / mine;
    const down = m.state === "suspect" || m.state === "unreachable" || m.state === "removed";
    const cls = down ? "down" : (m.lag_txns > 0 ? "lagging" : "");
    const tr = el("tr", { "data-member": m.name, "data-state": m.state },
      el("td", {}, el("b", {}, m.name)),
      el("td", {}, el("span", { class: "state " + m.state }, m.state)),
      el("td", { class: "dim" }, m.addr || ""),
      el("td", { title: applied + " of " + mine + " transactions" }, bar(frac, cls)),
      el("td", { class: "num" }, String(m.state === "self" ? 0 : m.lag_txns) + (m.behind_log ? " (behind log)" : "")));
    return tr;
  });
  $("members").replaceChildren(...rows);
  const alive = (st.members || []).filter((m) => m.state === "alive" || m.state === "self").length;
  $("f-members").textContent = alive + " / " + (st.members || []).length;
}

function drawCollapse(st) {
  const origins = Object.keys(st.applied || {}).sort();
  const rows = origins.map((o) => {
    const a = st.applied[o], c = (st.collapsed || {})[o] || 0;
    return el("tr", { "data-origin": o },
      el("td", {}, o),
      el("td", { class: "num" }, c + " / " + a),
      el("td", {}, bar(a === 0 ? 1 : c / a, c < a ? "lagging" : "")));
  });
  $("collapse").replaceChildren(...rows);
  const a = sum(st.applied), c = sum(st.collapsed);
  $("f-collapse").textContent = a === 0 ? "100%" : Math.floor((c / a) * 100) + "%";
}

function drawRate(st, now) {
  const total = sum(st.applied);
  if (last !== null && now > last.t) {
    rates.push(Math.max(0, (total - last.total) / ((now - last.t) / 1000)));
    if (rates.length > RATE_POINTS) rates.shift();
  }
  last = { t: now, total };
  const r = rates.length ? rates[rates.length - 1] : 0;
  $("f-rate").textContent = r < 10 ? r.toFixed(1) : Math.round(r);
  const cv = $("rate"), g = cv.getContext("2d");
  const w = cv.width, h = cv.height, top = Math.max(1, ...rates);
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#2a333d";
  g.beginPath(); g.moveTo(0, h - 0.5); g.lineTo(w, h - 0.5); g.stroke();
  g.strokeStyle = "#58a6ff"; g.lineWidth = 2;
  g.beginPath();
  rates.forEach((v, i) => {
    const x = w - ((rates.length - 1 - i) / (RATE_POINTS - 1)) * w, y = h - 4 - (v / top) * (h - 12);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#8a96a3"; g.font = "11px sans-serif";
  g.fillText("peak " + (top < 10 ? top.toFixed(1) : Math.round(top)) + "/s", 4, 12);
}

function drawEvents(st) {
  const list = $("events");
  const events = st.recent_events || [];
  // The node keeps its most recent events, newest last; list new ones on top.
  for (const e of events) {
    const id = e.time + "|" + e.type + "|" + (e.peer || "") + "|" + (e.txn || "");
    if (seenEvents.has(id)) continue;
    seenEvents.add(id);
    const t = new Date(e.time);
    const li = el("li", { class: "fresh", "data-event": e.type },
      el("span", { class: "t" }, t.toLocaleTimeString()),
      el("span", { class: "k " + (EVENT_CLASS[e.type] || "") }, e.type),
      e.peer ? el("b", {}, e.peer + " ") : "",
      el("span", { class: "dim" }, (e.txn ? e.txn + " " : "") + (e.detail || "")));
    list.prepend(li);
  }
  while (list.children.length > 200) list.lastChild.remove();
}

function draw(st) {
  const now = performance.now();
  $("node").textContent = st.name + " · cluster " + st.cluster + " · " + (st.version || "");
  $("f-keys").textContent = st.keys;
  $("f-hash").textContent = (st.state_hash || "").slice(0, 12);
  drawMembers(st);
  drawCollapse(st);
  drawRate(st, now);
  drawEvents(st);
  const conn = $("conn");
  if (st.failed) {
    conn.textContent = "FAILED: " + st.failed;
    conn.className = "conn down";
  } else {
    conn.textContent = "live";
    conn.className = "conn";
  }
}

async function poll() {
  try {
    const r = await fetch("api/status", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    draw(await r.json());
    failures = 0;
  } catch (err) {
    failures++;
    const conn = $("conn");
    conn.textContent = "this node does not answer (" + err.message + ")";
    conn.className = "conn down";
  }
  setTimeout(poll, POLL_MS);
}

poll();
