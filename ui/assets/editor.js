// The collaborative editor: a textarea bound to one text key over the
// WebSocket at api/text/KEY (the node's /v1/text/KEY WebSocket under the
// page's auth). The node sends {"type":"doc"} with the text, then
// {"type":"change"} for every change from elsewhere and {"type":"ack"}
// for each of our edits it applied; we send {"type":"edit"} with the
// revision we last saw. Positions count Unicode code points.
//
// Between sending an edit and its ack our copy is ahead of the node's
// record of it. A change that arrives then was made without our edits:
// we transform it over them (and them over it) before applying it, with
// the node's text first when both insert at one place, and move the
// cursor and selection over it. The transform is the one of
// api/http/textsync.go; keep the two equal.
//
// Presence: we report our cursor ({"type":"cursor"} on our revision while
// no edit of ours awaits its ack, or inside the edit that moves it) with
// the name and colour we show for ourselves; the node sends
// {"type":"cursors"}, the other editors' cursors on its revision, which
// it keeps attached to their characters (api/http/presence.go). Between
// two such messages we move them over every edit as we move our own.
"use strict";

const RECONNECT_MS = 1000;
const HIGHLIGHT_MS = 3000;   // how long text from elsewhere stays marked

const $ = (id) => document.getElementById(id);
const area = $("text");
const statusEl = $("status");
const backdrop = $("backdrop");

let ws = null;
let key = new URLSearchParams(location.search).get("key") || "doc";
let rev = 0;          // the node's revision our copy is based on
let shadow = "";      // the textarea's value as last seen or set by us
let pending = [];     // lists of ops not yet acknowledged, oldest first; pending[0] is in flight when sent
let inflight = false;
let remoteEdits = 0;
let marks = [];       // text from elsewhere, recently: {start, end, until} in code points
let others = [];      // the other editors' cursors: {id, name, color, node, anchor, head} in code points
let reported = "";    // the cursor we last reported, as JSON

const PALETTE = ["#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#79c0ff", "#e3b341", "#56d4dd", "#f778ba"];
const params = new URLSearchParams(location.search);
let myName = params.get("name") || localStorage.getItem("spook.name") || "guest-" + Math.floor(Math.random() * 1000);
const colorOf = (name) => PALETTE[Array.from(name).reduce((h, c) => (h * 31 + c.codePointAt(0)) >>> 0, 7) % PALETTE.length];

// ---- the transform (mirror of api/http/textsync.go) ----

const cps = (s) => Array.from(s); // code points
const size = (o) => (o.insert ? cps(o.insert).length : o.delete);

function applyOps(text, ops) {
  let t = cps(text);
  for (const o of ops) {
    if (o.pos < 0 || o.pos > t.length) throw new Error("op out of range");
    if (o.insert) t.splice(o.pos, 0, ...cps(o.insert));
    else if (o.delete > 0 && o.delete <= t.length - o.pos) t.splice(o.pos, o.delete);
    else throw new Error("op out of range");
  }
  return t.join("");
}

function diffText(from, to) {
  const a = cps(from), b = cps(to);
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  const ops = [];
  if (a.length - p - s > 0) ops.push({ pos: p, delete: a.length - p - s });
  const ins = b.slice(p, b.length - s).join("");
  if (ins) ops.push({ pos: p, insert: ins });
  return ops;
}

function insertOverDelete(i, d) {
  if (i.pos <= d.pos) return [[i], [{ pos: d.pos + size(i), delete: d.delete }]];
  if (i.pos >= d.pos + d.delete) return [[{ pos: i.pos - d.delete, insert: i.insert }], [d]];
  const before = i.pos - d.pos;
  return [[{ pos: d.pos, insert: i.insert }],
    [{ pos: d.pos, delete: before }, { pos: d.pos + size(i), delete: d.delete - before }]];
}

function deleteOverDelete(a, b) {
  const aEnd = a.pos + a.delete, bEnd = b.pos + b.delete;
  const overlap = Math.max(0, Math.min(aEnd, bEnd) - Math.max(a.pos, b.pos));
  if (a.delete === overlap) return [];
  const before = Math.max(0, Math.min(a.pos, bEnd) - b.pos);
  return [{ pos: a.pos - before, delete: a.delete - overlap }];
}

function transformOp(a, b, aFirst) {
  if (a.insert && b.insert) {
    if (a.pos < b.pos || (a.pos === b.pos && aFirst)) return [[a], [{ pos: b.pos + size(a), insert: b.insert }]];
    return [[{ pos: a.pos + size(b), insert: a.insert }], [b]];
  }
  if (a.insert) return insertOverDelete(a, b);
  if (b.insert) { const [bt, at] = insertOverDelete(b, a); return [at, bt]; }
  return [deleteOverDelete(a, b), deleteOverDelete(b, a)];
}

// transform returns [a', b']: a to apply after b, b to apply after a.
function transform(a, b, aFirst) {
  if (a.length === 0 || b.length === 0) return [a, b];
  if (a.length === 1 && b.length === 1) return transformOp(a[0], b[0], aFirst);
  if (a.length > 1) {
    const [head, b1] = transform(a.slice(0, 1), b, aFirst);
    const [rest, b2] = transform(a.slice(1), b1, aFirst);
    return [head.concat(rest), b2];
  }
  const [a1, head] = transform(a, b.slice(0, 1), aFirst);
  const [a2, rest] = transform(a1, b.slice(1), aFirst);
  return [a2, head.concat(rest)];
}

// movePos moves a cursor position (code points) over ops: an insert at or
// before it pushes it right, a delete around it pulls it to the delete.
function movePos(x, ops) {
  for (const o of ops) {
    if (o.insert) { if (o.pos <= x) x += size(o); }
    else if (x > o.pos) x = Math.max(o.pos, x - o.delete);
  }
  return x;
}

function toCp(s, u16) { return cps(s.slice(0, u16)).length; }
function toU16(s, cp) { return cps(s).slice(0, cp).join("").length; }

// ---- the connection ----

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
  statusEl.className = "conn" + (state === "live" ? "" : " down");
}

function send(msg) { ws.send(JSON.stringify(msg)); }

function flush() {
  if (!inflight && pending.length > 0 && ws && ws.readyState === WebSocket.OPEN) {
    const m = { type: "edit", rev, ops: pending[0] };
    if (pending.length === 1) { // our cursor is on the text after this edit
      Object.assign(m, myCursor());
      reported = JSON.stringify(myCursor());
    }
    send(m);
    inflight = true;
  }
}

// myCursor is our selection in code points, anchor where it started.
function myCursor() {
  const text = area.value;
  const s = toCp(text, area.selectionStart), e = toCp(text, area.selectionEnd);
  const back = area.selectionDirection === "backward";
  return { anchor: back ? e : s, head: back ? s : e, name: myName, color: colorOf(myName) };
}

// reportCursor sends our cursor if it moved and no edit of ours is
// unacknowledged (the node would not know the text it is on).
function reportCursor() {
  if (pending.length > 0 || !ws || ws.readyState !== WebSocket.OPEN || area.disabled) return;
  const c = myCursor();
  const js = JSON.stringify(c);
  if (js === reported) return;
  reported = js;
  send(Object.assign({ type: "cursor", rev }, c));
}

// stickyPos moves another editor's cursor over ops as the node does
// (api/http/presence.go): it follows the character before it, so text
// inserted right at it goes after it.
function stickyPos(x, ops) {
  for (const o of ops) {
    if (o.insert) { if (o.pos < x) x += size(o); }
    else if (x > o.pos) x = Math.max(o.pos, x - o.delete);
  }
  return x;
}

function moveOthers(ops) {
  for (const o of others) { o.anchor = stickyPos(o.anchor, ops); o.head = stickyPos(o.head, ops); }
}

// drawPeers lists the other editors under the text.
function drawPeers() {
  const items = others.map((o) => {
    const e = el("span", "● " + o.name + (o.node ? " on " + o.node : ""));
    e.style.color = o.color;
    e.dataset.peer = o.name;
    return e;
  });
  $("peers").replaceChildren(...(items.length ? [el("span", "also here:")].concat(items) : []));
}

function onInput() {
  const now = area.value;
  const ops = diffText(shadow, now);
  shadow = now;
  if (ops.length === 0) return;
  moveOthers(ops);
  moveMarks(ops, false);
  pending.push(ops);
  flush();
}

// moveMarks carries the marks over ops; remote inserts become marks.
function moveMarks(ops, remote) {
  for (const o of ops) {
    for (const m of marks) {
      m.start = movePos(m.start, [o]);
      m.end = o.insert && o.pos === m.end ? m.end : movePos(m.end, [o]);
    }
    if (remote && o.insert) marks.push({ start: o.pos, end: o.pos + size(o), until: Date.now() + HIGHLIGHT_MS });
  }
  drawMarks();
}

// drawMarks paints the marks, the other editors' selections and their
// carets (with their names) on the backdrop behind the textarea, which
// holds the same text in transparent ink.
function drawMarks() {
  const now = Date.now();
  marks = marks.filter((m) => m.until > now && m.end > m.start);
  const text = cps(area.value);
  const clamp = (x) => Math.max(0, Math.min(x, text.length));
  const ranges = marks.map((m) => ({ start: m.start, end: m.end, mark: true }));
  for (const o of others) {
    const a = clamp(o.anchor), h = clamp(o.head);
    if (a !== h) ranges.push({ start: Math.min(a, h), end: Math.max(a, h), color: o.color });
  }
  const cuts = new Set([0, text.length]);
  for (const r of ranges) { cuts.add(clamp(r.start)); cuts.add(clamp(r.end)); }
  for (const o of others) cuts.add(clamp(o.head));
  const points = Array.from(cuts).sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < points.length; i++) {
    const at = points[i];
    for (const o of others) {
      if (clamp(o.head) !== at) continue;
      const caret = el("span", "");
      caret.className = "rcaret";
      caret.style.borderColor = o.color;
      caret.dataset.name = o.name;
      caret.dataset.pos = String(at);
      const label = el("span", o.name);
      label.className = "rname";
      label.style.background = o.color;
      caret.append(label);
      parts.push(caret);
    }
    if (i + 1 === points.length) break;
    const next = points[i + 1];
    let node = document.createTextNode(text.slice(at, next).join(""));
    for (const r of ranges) {
      if (r.start > at || r.end < next) continue;
      const wrap = document.createElement(r.mark ? "mark" : "span");
      if (!r.mark) { wrap.className = "rsel"; wrap.style.background = r.color + "55"; }
      wrap.append(node);
      node = wrap;
    }
    parts.push(node);
  }
  parts.push("\n");
  backdrop.replaceChildren(...parts);
  backdrop.scrollTop = area.scrollTop;
}

function el(tag, text) {
  const e = document.createElement(tag);
  e.textContent = text;
  return e;
}

function onChange(ops) {
  // The node's change was made on its copy, which lacks our pending
  // edits: carry it over them, and them over it (node's text first).
  let change = ops;
  for (let i = 0; i < pending.length; i++) {
    const [c2, p2] = transform(change, pending[i], true);
    change = c2;
    pending[i] = p2;
  }
  // An edit the change undid entirely (both deleted the same text) is
  // dropped, unless it is in flight: its ack is still to come.
  pending = pending.filter((p, i) => p.length > 0 || (i === 0 && inflight));
  const text = area.value;
  const start = movePos(toCp(text, area.selectionStart), change);
  const end = movePos(toCp(text, area.selectionEnd), change);
  const next = applyOps(text, change);
  const focused = document.activeElement === area;
  area.value = next;
  shadow = next;
  if (focused) area.setSelectionRange(toU16(next, start), toU16(next, end));
  moveOthers(change);
  moveMarks(change, true);
  remoteEdits++;
  $("remote").textContent = remoteEdits + " remote change" + (remoteEdits === 1 ? "" : "s") + " received";
}

function connect() {
  const url = new URL("api/text/" + encodeURIComponent(key), location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  setStatus("connecting", "connecting…");
  ws = new WebSocket(url);
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    switch (m.type) {
      case "doc":
        rev = m.rev;
        pending = [];
        inflight = false;
        area.value = m.text;
        shadow = m.text;
        marks = [];
        others = [];
        reported = "";
        drawMarks();
        drawPeers();
        area.disabled = false;
        area.placeholder = "Type here; others editing " + key + " see it live.";
        $("node").textContent = "node " + m.node + " · key " + key;
        setStatus("live", "live");
        reportCursor();
        break;
      case "change":
        rev = m.rev;
        onChange(m.ops);
        break;
      case "ack":
        rev = m.rev;
        pending.shift();
        inflight = false;
        flush();
        reportCursor();
        break;
      case "cursors": {
        // On revision m.rev, which lacks our pending edits: carry them over.
        const mine = [].concat(...pending);
        others = (m.cursors || []).map((c) => ({ id: c.id, name: c.name, color: c.color, node: c.node,
          anchor: stickyPos(c.anchor, mine), head: stickyPos(c.head, mine) }));
        drawMarks();
        drawPeers();
        break;
      }
      case "error":
        setStatus("error", m.message);
        break;
    }
    $("info").textContent = "revision " + rev + (pending.length ? " · " + pending.length + " unsent" : "");
  };
  ws.onclose = () => {
    area.disabled = true;
    others = [];
    drawMarks();
    drawPeers();
    if (statusEl.dataset.state !== "error") setStatus("closed", "disconnected; reconnecting…");
    setTimeout(connect, RECONNECT_MS);
  };
}

area.addEventListener("input", onInput);
document.addEventListener("selectionchange", reportCursor);
area.addEventListener("select", reportCursor);
area.addEventListener("keyup", reportCursor);
area.addEventListener("mouseup", reportCursor);
$("name").value = myName;
$("name").addEventListener("change", () => {
  const n = $("name").value.trim();
  if (!n) return;
  myName = n;
  localStorage.setItem("spook.name", n);
  $("me").style.color = colorOf(myName);
  reported = "";
  reportCursor();
});
area.addEventListener("scroll", () => { backdrop.scrollTop = area.scrollTop; });
setInterval(() => { if (marks.length) drawMarks(); }, 500);
$("me").style.color = colorOf(myName);
$("key").value = key;
$("open").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const k = $("key").value.trim();
  if (!k || k === key) return;
  history.replaceState(null, "", "?key=" + encodeURIComponent(k));
  key = k;
  if (ws) { ws.onclose = null; ws.close(); }
  connect();
});

// For tests: the transform, to compare with the node's.
window.spookText = { transform, applyOps, diffText, movePos, stickyPos };

connect();
