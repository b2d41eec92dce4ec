// Replays editing traces (josephg/editing-traces format) through Yjs and
// Automerge the way `spook trace replay` replays them through Spook, and
// prints one JSON line per system and trace:
//
//   {"system","trace","ops","local_ms","merge_ms","bytes_per_op","heap_bytes","state_bytes","ok"}
//
// local: every transaction made as a local change, with its update encoded
//   (Yjs: the 'update' event's bytes; Automerge: getLastLocalChange); a
//   concurrent trace gives each agent its own document, which first
//   applies the updates of its parents' causal closure it lacks.
// merge: every recorded update applied to an empty document as remote
//   changes (Yjs: applyUpdate of each update inside one transaction;
//   Automerge: applyChanges with all changes).
// heap_bytes: live JS heap held by the final document (node --expose-gc),
//   state_bytes: its saved encoding (Yjs encodeStateAsUpdate, Automerge save).
// Positions: the shared traces are ASCII, where code points and the UTF-16
// units these libraries count agree.
//
// usage: node --expose-gc bench.mjs [--runs N] [--systems yjs,automerge] [--automerge-prefix N] FILE...
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import * as Y from 'yjs';
import * as A from '@automerge/automerge';

const args = process.argv.slice(2);
let runs = 1;
let systems = ['yjs', 'automerge'];
// Automerge makes about 500 changes a second here, so on a sequential
// trace longer than this prefix it replays only the prefix (reported as
// "prefix") and checks the text a plain string replay of it gives.
let automergePrefix = 0;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = parseInt(args[++i], 10);
  else if (args[i] === '--systems') systems = args[++i].split(',');
  else if (args[i] === '--automerge-prefix') automergePrefix = parseInt(args[++i], 10);
  else files.push(args[i]);
}

const gc = () => { if (global.gc) { global.gc(); global.gc(); } };
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function load(file) {
  const t = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'));
  t.name = path.basename(file).replace(/\.gz$/, '').replace(/\.json$/, '');
  t.concurrent = t.kind === 'concurrent';
  t.numAgents = t.numAgents || 1;
  t.ops = 0;
  for (const tx of t.txns) for (const [, del, ins] of tx.patches) { if (del > 0) t.ops++; if (ins !== '') t.ops++; }
  return t;
}

// closure returns, in index order, the transactions in the causal closure
// of from that applied lacks.
function closure(t, from, applied) {
  const out = [], seen = new Set(), stack = [...from];
  while (stack.length) {
    const j = stack.pop();
    if (applied[j] || seen.has(j)) continue;
    seen.add(j); out.push(j);
    for (const p of t.txns[j].parents) stack.push(p);
  }
  return out.sort((a, b) => a - b);
}

const yjs = {
  local(t) {
    const docs = [], applied = [];
    for (let a = 0; a < t.numAgents; a++) {
      const d = new Y.Doc();
      d.clientID = a + 1; // deterministic: concurrent insertions at one place are ordered by client
      docs.push(d);
      applied.push(new Array(t.txns.length).fill(false));
    }
    const updates = new Array(t.txns.length);
    let bytes = 0, current = -1;
    const onUpdate = (u, origin) => { if (origin === 'local') { updates[current] = updates[current] ? Y.mergeUpdates([updates[current], u]) : u; bytes += u.length; } };
    for (const d of docs) d.on('update', onUpdate);
    let startUpdate = null;
    if (t.startContent) {
      docs[0].once('update', (u) => { startUpdate = u; });
      docs[0].transact(() => docs[0].getText('t').insert(0, t.startContent), 'start');
    }
    t.txns.forEach((tx, i) => {
      const a = tx.agent || 0, d = docs[a];
      if (t.concurrent) {
        for (const j of closure(t, tx.parents, applied[a])) { Y.applyUpdate(d, updates[j], 'remote'); applied[a][j] = true; }
        applied[a][i] = true;
      }
      current = i;
      const text = d.getText('t');
      d.transact(() => { for (const [pos, del, ins] of tx.patches) { if (del > 0) text.delete(pos, del); if (ins !== '') text.insert(pos, ins); } }, 'local');
    });
    let final = docs[0];
    if (t.concurrent) {
      const all = t.txns.map((_, i) => i);
      for (const j of closure(t, all, applied[0])) Y.applyUpdate(final, updates[j], 'remote');
    }
    for (const d of docs) d.off('update', onUpdate);
    return { final, updates, bytes, start: startUpdate };
  },
  merge(h) {
    const d = new Y.Doc();
    d.transact(() => { if (h.start) Y.applyUpdate(d, h.start); for (const u of h.updates) if (u) Y.applyUpdate(d, u); });
    return d;
  },
  text: (d) => d.getText('t').toString(),
  save: (d) => Y.encodeStateAsUpdate(d).length,
};

const automerge = {
  local(t) {
    const docs = [], applied = [];
    // One document made by a fixed actor holds the text object (with the
    // start content); each agent works on a clone of it.
    const base = A.from({ text: t.startContent || '' }, { actor: 'ff'.padStart(32, '0') });
    const start = A.getAllChanges(base);
    for (let a = 0; a < t.numAgents; a++) {
      docs.push(A.clone(base, { actor: (a + 1).toString(16).padStart(32, '0') }));
      applied.push(new Array(t.txns.length).fill(false));
    }
    const changes = new Array(t.txns.length);
    let bytes = 0;
    t.txns.forEach((tx, i) => {
      const a = tx.agent || 0;
      if (t.concurrent) {
        const missing = closure(t, tx.parents, applied[a]);
        if (missing.length) [docs[a]] = A.applyChanges(docs[a], missing.map((j) => changes[j]));
        for (const j of missing) applied[a][j] = true;
        applied[a][i] = true;
      }
      docs[a] = A.change(docs[a], (d) => { for (const [pos, del, ins] of tx.patches) A.splice(d, ['text'], pos, del, ins); });
      const c = A.getLastLocalChange(docs[a]);
      changes[i] = c;
      bytes += c ? c.length : 0;
    });
    let final = docs[0];
    if (t.concurrent) {
      const missing = closure(t, t.txns.map((_, i) => i), applied[0]);
      [final] = A.applyChanges(final, missing.map((j) => changes[j]));
    }
    return { final, updates: changes, bytes, start };
  },
  merge(h) {
    const [d] = A.applyChanges(A.init(), [...h.start, ...h.updates.filter(Boolean)]);
    return d;
  },
  text: (d) => d.text.toString(),
  save: (d) => A.save(d).length,
};

// prefixOf returns t cut to its first n transactions, with the end
// content a plain string replay gives.
function prefixOf(t, n) {
  const p = { ...t, txns: t.txns.slice(0, n), prefix: n, ops: 0 };
  let text = t.startContent || '';
  for (const tx of p.txns) for (const [pos, del, ins] of tx.patches) {
    text = text.slice(0, pos) + ins + text.slice(pos + del);
    if (del > 0) p.ops++;
    if (ins !== '') p.ops++;
  }
  p.endContent = text;
  return p;
}

const impls = { yjs, automerge };
for (const file of files) {
  const full = load(file);
  for (const name of systems) {
    let t = full;
    if (name === 'automerge' && automergePrefix > 0 && !full.concurrent && full.txns.length > automergePrefix) t = prefixOf(full, automergePrefix);
    const impl = impls[name];
    const locals = [], merges = [];
    let ok = true, bytes = 0;
    for (let r = 0; r < runs; r++) {
      gc();
      let t0 = now();
      const h = impl.local(t);
      locals.push(now() - t0);
      ok = ok && impl.text(h.final) === t.endContent;
      bytes = h.bytes;
      gc();
      t0 = now();
      const m = impl.merge(h);
      merges.push(now() - t0);
      ok = ok && impl.text(m) === t.endContent;
    }
    // Memory: the final document alone (JS heap plus external memory, which
    // holds Automerge's WebAssembly heap), after a fresh local replay whose
    // history is dropped.
    gc();
    const used = () => { const u = process.memoryUsage(); return u.heapUsed + u.external; };
    const before = used();
    let doc = impl.local(t).final;
    gc();
    const heap = used() - before;
    const state = impl.save(doc);
    doc = null;
    console.log(JSON.stringify({
      system: name, trace: t.name, ops: t.ops,
      local_ms: +median(locals).toFixed(1), merge_ms: +median(merges).toFixed(1),
      bytes_per_op: +(bytes / t.ops).toFixed(2), heap_bytes: heap, state_bytes: state, ok,
      prefix: t.prefix || 0,
    }));
  }
}
