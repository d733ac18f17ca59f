// The sync workload of `cec-bench sync` on a peer system, for comparison with cecd.
//
//   node sync-peers.mjs automerge-repo|pouchdb --checkins N --sessions S --kiosks K
//        --per-kiosk P --docs D --data DIR
//
// Starts the peer's server as a child process on 127.0.0.1 (automerge-server.mjs: an
// automerge-repo sync server, or ingest-server.js: express-pouchdb), runs the kiosks in this
// process, each connecting through a TCP relay on 127.0.0.1 that counts the bytes on the wire,
// and prints progress lines and then one line `RESULT {json}` with every figure. Each check-in
// is one record: in automerge-repo one string value (its fields as JSON) under its id in the
// session's document, as cecd stores one string value per check-in; in PouchDB one document. Every wait has a deadline; the program stops by itself.
'use strict';

import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const DEADLINE_MS = Number(process.env.SYNC_PEERS_DEADLINE_MS ?? 300_000);

function parseArgs(argv) {
  const [system, ...rest] = argv;
  const o = { system, checkins: 10000, sessions: 20, kiosks: 10, perKiosk: 5000, docs: 500, partSecs: 0, data: null, url: null, seeds: null, want: 0 };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in o)) throw new Error(`unknown option ${rest[i]}`);
    o[key] = ['data', 'url', 'seeds'].includes(key) ? rest[i + 1] : Number(rest[i + 1]);
  }
  if (!o.data || !['automerge-repo', 'pouchdb', 'automerge-kiosk'].includes(system)) {
    throw new Error('usage: node sync-peers.mjs automerge-repo|pouchdb --data DIR [--checkins N ...]');
  }
  return o;
}

const here = path.dirname(new URL(import.meta.url).pathname);
const version = (pkg) => JSON.parse(fs.readFileSync(path.join(here, 'node_modules', pkg, 'package.json'))).version;
// Servers started here, killed if this process stops early.
const children = [];
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now() / 1000;

// `work`, failed if it has not settled within `secs` seconds (0: no limit), so that a part
// that does not finish is reported and the parts after it still run.
function within(secs, what, work) {
  if (!secs) return work;
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${secs} s`)), secs * 1000);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

async function until(what, test, everyMs = 5) {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    if (await test()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/// A TCP relay on 127.0.0.1 to `port`, counting bytes both ways as they pass.
function relay(port) {
  const wire = { up: 0, down: 0, last: 0, total: () => wire.up + wire.down };
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, '127.0.0.1');
    inbound.setNoDelay(true);
    outbound.setNoDelay(true);
    inbound.on('data', (b) => { wire.up += b.length; wire.last = now(); outbound.write(b); });
    outbound.on('data', (b) => { wire.down += b.length; wire.last = now(); inbound.write(b); });
    inbound.on('end', () => outbound.end());
    outbound.on('end', () => inbound.end());
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, wire, server })));
}

/// Starts `node script args` and waits for `listening on http://127.0.0.1:PORT`.
function startServer(script, args) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not listen within 30 s`)), 30_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]) }); }
    });
    child.on('exit', (code) => reject(new Error(`${script} exited (${code})`)));
  });
}

function checkin(id, session, i, kiosk) {
  return {
    event_id: 'E1', session_id: `s${session}`, member_id: `M${Math.floor(i / 2)}`,
    direction: i % 2 === 0 ? 'in' : 'out', at: '2027-03-01T09:00:00Z', method: 'badge',
    kiosk_id: kiosk, recorded_at: '2027-03-01T09:00:00Z',
  };
}

// ---------------------------------------------------------------------------------------------
// automerge-repo

async function automerge(o) {
  const { Repo } = await import('@automerge/automerge-repo');
  const { WebSocketClientAdapter } = await import('@automerge/automerge-repo-network-websocket');
  const { NodeFSStorageAdapter } = await import('@automerge/automerge-repo-storage-nodefs');
  const server = await startServer('automerge-server.mjs', ['0', path.join(o.data, 'server')]);
  const direct = `http://127.0.0.1:${server.port}`;
  const r = await relay(server.port);
  const url = `ws://127.0.0.1:${r.port}`;
  const post = async (what, body) => {
    const res = await fetch(`${direct}/${what}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`POST /${what}: ${res.status}`);
    return res.json();
  };
  // The server's count of check-ins in `docs`, flushed to its storage once it reaches `want`.
  const serverHas = async (docs, want) => (await post('count', { docs, want })).count >= want;
  const kioskRepo = (name) => new Repo({ storage: new NodeFSStorageAdapter(path.join(o.data, name)), network: [] });
  // A kiosk's connection, counting the messages it sends and the documents it heard about.
  const connect = (repo) => {
    const adapter = new WebSocketClientAdapter(url);
    const stats = { sent: 0 };
    const send = adapter.send.bind(adapter);
    adapter.send = (m) => { stats.sent++; send(m); };
    repo.networkSubsystem.addNetworkAdapter(adapter);
    return { adapter, stats };
  };
  const disconnect = (repo, c) => repo.networkSubsystem.removeNetworkAdapter(c.adapter);
  const count = (h) => Object.keys(h.doc().checkins).length;
  const record = (handles, n, prefix, kiosk) => recordAutomerge(handles, n, prefix, kiosk);
  const out = {
    versions: `@automerge/automerge-repo ${version('@automerge/automerge-repo')}, -network-websocket ${version('@automerge/automerge-repo-network-websocket')}, -storage-nodefs ${version('@automerge/automerge-repo-storage-nodefs')}, @automerge/automerge ${version('@automerge/automerge')}, node ${process.version}`,
    durability: 'NodeFS storage adapter (files written with fs.writeFile, no fsync); "committed" = counted in the server\'s repo and repo.flush() returned',
  };

  // Part 1: one kiosk, N check-ins in S session documents, recorded offline, then connected.
  {
    const repo = kioskRepo('k1');
    const handles = [];
    for (let s = 0; s < o.sessions; s++) handles.push(repo.create({ checkins: {} }));
    record(handles, o.checkins, 'c', 'kiosk1');
    await repo.flush();
    const ids = handles.map((h) => h.documentId);
    const w0 = r.wire.total();
    const t0 = now();
    const c = connect(repo);
    await until('the server to hold part 1', () => serverHas(ids, o.checkins));
    out.one = { secs: now() - t0, wire: r.wire.total() - w0, requests: c.stats.sent };
    console.log(`part 1: ${o.checkins} check-ins in ${out.one.secs.toFixed(3)} s`);
    disconnect(repo, c);
    await repo.shutdown();
  }

  // Part 2: K kiosks, each P check-ins in the same S documents, recorded offline, then all
  // connected at once; done when every kiosk holds K × P. Each kiosk is its own Node process
  // (`automerge-kiosk` below): Automerge's WASM heap is one per process and at most 4 GB, which
  // ten kiosks' copies of 50,000 check-ins overflow in one process. A failure here is reported,
  // and part 3 still runs.
  const kiosks = [];
  try {
    const setup = new Repo({ network: [] });
    const seeds = [];
    for (let s = 0; s < o.sessions; s++) {
      const h = setup.create({ checkins: {} });
      seeds.push({ id: h.documentId, bytes: Buffer.from(await setup.export(h.documentId)).toString('base64') });
    }
    await setup.shutdown();
    const seedFile = path.join(o.data, 'seeds.json');
    fs.writeFileSync(seedFile, JSON.stringify(seeds));
    const want = o.kiosks * o.perKiosk;
    for (let k = 0; k < o.kiosks; k++) {
      const child = fork(path.join(here, 'sync-peers.mjs'), ['automerge-kiosk', '--data', path.join(o.data, `m${k}`), '--kiosks', String(k), '--per-kiosk', String(o.perKiosk), '--sessions', String(o.sessions), '--url', url, '--seeds', seedFile, '--want', String(want)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const next = () => new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`kiosk ${k} exited (${code})`)));
      });
      kiosks.push({ child, next });
    }
    const ready = kiosks.map((k) => k.next());
    await Promise.all(ready);
    const w0 = r.wire.total();
    const started = performance.timeOrigin + performance.now();
    const done = kiosks.map((k) => k.next());
    for (const k of kiosks) k.child.send('connect');
    const reports = await within(o.partSecs, 'part 2', Promise.all(done));
    const secs = (Math.max(...reports.map((m) => m.at)) - started) / 1000;
    await until('the server to hold all', () => serverHas(seeds.map((s) => s.id), want));
    out.many = {
      secs, wire: r.wire.total() - w0, requests: reports.reduce((a, m) => a + m.sent, 0),
      how: 'each kiosk its own Node process; all connect at once over WebSocket and sync continuously (automerge-repo has no rounds); timed until every kiosk holds all',
    };
    console.log(`part 2: ${want} check-ins converged in ${secs.toFixed(3)} s`);
    for (const k of kiosks) k.child.send('stop');
  } catch (e) {
    out.many = { how: `did not complete: ${e.message}` };
    console.log(`part 2: ${out.many.how}`);
    for (const k of kiosks) k.child.kill('SIGKILL');
  }

  // Part 3: the server holds D documents of one check-in each; a kiosk fetches them, then
  // restarts and resyncs with nothing changed, then again after one new check-in.
  try {
    const { ids } = await post('seed', { n: o.docs });
    const repo = kioskRepo('r');
    let w0 = r.wire.total();
    let c = connect(repo);
    const handles = await Promise.all(ids.map((id) => repo.find(id)));
    await until('the first sync', () => handles.every((h) => count(h) === 1));
    out.first = { wire: r.wire.total() - w0 };
    console.log(`part 3: first sync of ${o.docs} documents`);
    await repo.flush();
    disconnect(repo, c);
    await repo.shutdown();
    // A resync is a kiosk restarting on its storage: a new Repo (new peer id) that loads the D
    // documents from disk (not timed), then connects. automerge-repo tells no end of a sync, so
    // it is over when the relay has been quiet for 300 ms; its time runs to the last byte.
    const reopen = async (name) => {
      const again = kioskRepo(name);
      const hs = await Promise.all(ids.map((id) => again.find(id)));
      return { repo: again, hs };
    };
    const quiet = async (t) => {
      await until('a quiet connection', () => r.wire.last > t && now() - r.wire.last > 0.3, 20);
      return r.wire.last - t;
    };
    let k = await reopen('r');
    w0 = r.wire.total();
    let t0 = now();
    c = connect(k.repo);
    const secs = await quiet(t0);
    out.resync = { secs, wire: r.wire.total() - w0, requests: c.stats.sent };
    disconnect(k.repo, c);
    await k.repo.shutdown();
    k = await reopen('r');
    k.hs[0].change((d) => { d.checkins.new1 = JSON.stringify(checkin('new1', 0, 1, 'kiosk-r')); });
    await k.repo.flush();
    w0 = r.wire.total();
    t0 = now();
    c = connect(k.repo);
    await until('the new check-in at the server', () => serverHas([ids[0]], 2));
    out.new = { secs: now() - t0, requests: c.stats.sent };
    await quiet(t0);
    out.new.wire = r.wire.total() - w0;
    out.new.requests = c.stats.sent;
    disconnect(k.repo, c);
    await k.repo.shutdown();
  } catch (e) {
    out.resync = { note: `did not complete: ${e.message}` };
    console.log(`part 3: ${out.resync.note}`);
  }
  r.server.close();
  server.child.kill('SIGTERM');
  return out;
}

// 500 check-ins per change, like cecd's batches, round robin over the session documents.
function recordAutomerge(handles, n, prefix, kiosk) {
  for (let s = 0; s < handles.length; s++) {
    const ids = [];
    for (let i = s; i < n; i += handles.length) ids.push(i);
    for (let b = 0; b < ids.length; b += 500) {
      handles[s].change((d) => {
        for (const i of ids.slice(b, b + 500)) d.checkins[`${prefix}${i}`] = JSON.stringify(checkin(`${prefix}${i}`, s, i, kiosk));
      });
    }
  }
}

/// One kiosk of part 2, a child process: imports the seeds, records, says 'ready', connects on
/// 'connect', says {at, sent} once it holds `want` check-ins, stops on 'stop'.
async function automergeKiosk(o) {
  const { Repo } = await import('@automerge/automerge-repo');
  const { WebSocketClientAdapter } = await import('@automerge/automerge-repo-network-websocket');
  const { NodeFSStorageAdapter } = await import('@automerge/automerge-repo-storage-nodefs');
  const repo = new Repo({ storage: new NodeFSStorageAdapter(o.data), network: [] });
  const seeds = JSON.parse(fs.readFileSync(o.seeds));
  const handles = seeds.map((seed) => repo.import(Buffer.from(seed.bytes, 'base64'), { docId: seed.id }));
  const k = o.kiosks;
  recordAutomerge(handles, o.perKiosk, `k${k}-`, `kiosk${k}`);
  await repo.flush();
  const connect = new Promise((resolve) => process.once('message', resolve));
  process.send('ready');
  await connect;
  const adapter = new WebSocketClientAdapter(o.url);
  let sent = 0;
  const send = adapter.send.bind(adapter);
  adapter.send = (m) => { sent++; send(m); };
  repo.networkSubsystem.addNetworkAdapter(adapter);
  const count = () => handles.reduce((a, h) => a + Object.keys(h.doc().checkins).length, 0);
  await until('this kiosk to hold all', () => count() >= o.want, 20);
  const stop = new Promise((resolve) => process.once('message', resolve));
  process.send({ at: performance.timeOrigin + performance.now(), sent });
  await stop;
  repo.networkSubsystem.removeNetworkAdapter(adapter);
  await repo.shutdown();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// PouchDB

async function pouchdb(o) {
  const PouchDB = require('pouchdb');
  const server = await startServer('ingest-server.js', ['0', path.join(o.data, 'server')]);
  const r = await relay(server.port);
  const requests = { n: 0 };
  const remote = (db) => new PouchDB(`http://127.0.0.1:${r.port}/${db}`, {
    fetch: (u, opts) => { requests.n++; return PouchDB.fetch(u, opts); },
  });
  const direct = (db) => new PouchDB(`http://127.0.0.1:${server.port}/${db}`);
  const local = (name) => new PouchDB(path.join(o.data, name));
  const record = async (db, n, prefix, kiosk) => {
    for (let b = 0; b < n; b += 500) {
      const docs = [];
      for (let i = b; i < Math.min(n, b + 500); i++) docs.push({ _id: `${prefix}${String(i).padStart(6, '0')}`, ...checkin('', i % o.sessions, i, kiosk) });
      await db.bulkDocs(docs);
    }
  };
  const out = {
    versions: `pouchdb ${version('pouchdb')}, express-pouchdb ${version('express-pouchdb')}, leveldown ${version('leveldown')}, node ${process.version}`,
    durability: 'LevelDB (leveldown) default writes on both sides, no fsync; "committed" = the server answered the replication\'s _bulk_docs',
  };

  // Part 1.
  {
    const db = local('k1');
    await record(db, o.checkins, 'c', 'kiosk1');
    const target = remote('one');
    await target.info();
    const w0 = r.wire.total();
    requests.n = 0;
    const t0 = now();
    await db.replicate.to(target);
    out.one = { secs: now() - t0, wire: r.wire.total() - w0, requests: requests.n };
    const held = (await direct('one').info()).doc_count;
    if (held !== o.checkins) throw new Error(`server holds ${held} of ${o.checkins}`);
    console.log(`part 1: ${o.checkins} check-ins in ${out.one.secs.toFixed(3)} s`);
  }

  // Part 2: rounds of every kiosk's sync (push and pull) at once, until all hold K × P.
  {
    const kiosks = [];
    for (let k = 0; k < o.kiosks; k++) {
      const db = local(`m${k}`);
      await record(db, o.perKiosk, `k${k}-`, `kiosk${k}`);
      kiosks.push({ db, target: remote('many') });
    }
    await kiosks[0].target.info();
    const want = o.kiosks * o.perKiosk;
    const w0 = r.wire.total();
    requests.n = 0;
    const t0 = now();
    let rounds = 0;
    let inFlight = [];
    const converge = async () => {
      for (;;) {
        rounds++;
        inFlight = kiosks.map((k) => k.db.sync(k.target));
        await Promise.all(inFlight);
        const counts = await Promise.all(kiosks.map(async (k) => (await k.db.info()).doc_count));
        if (counts.every((n) => n === want)) break;
        if (rounds >= 10) throw new Error(`not converged after ${rounds} rounds: ${counts}`);
      }
    };
    try {
      await within(o.partSecs, 'part 2', converge());
      out.many = {
        secs: now() - t0, wire: r.wire.total() - w0, requests: requests.n,
        how: `rounds of every kiosk's db.sync (push then pull) at once, as cecd's; ${rounds} rounds`,
      };
      console.log(`part 2: ${want} check-ins converged in ${out.many.secs.toFixed(3)} s (${rounds} rounds)`);
    } catch (e) {
      // Stopped, so that its traffic does not count in part 3.
      for (const sync of inFlight) sync.cancel();
      out.many = { how: `did not complete: ${e.message} (round ${rounds})` };
      console.log(`part 2: ${out.many.how}`);
    }
  }

  // Part 3: D documents at the server; the kiosk syncs them, resyncs, then after one new.
  {
    const seeded = direct('resync');
    await record(seeded, o.docs, 'd', 'central');
    const db = local('r');
    const target = remote('resync');
    let w0 = r.wire.total();
    await db.sync(target);
    out.first = { wire: r.wire.total() - w0 };
    w0 = r.wire.total();
    requests.n = 0;
    let t0 = now();
    await db.sync(target);
    out.resync = { secs: now() - t0, wire: r.wire.total() - w0, requests: requests.n };
    await db.put({ _id: 'new1', ...checkin('', 0, 1, 'kiosk-r') });
    w0 = r.wire.total();
    requests.n = 0;
    t0 = now();
    await db.sync(target);
    out.new = { secs: now() - t0, wire: r.wire.total() - w0, requests: requests.n };
    const held = (await direct('resync').info()).doc_count;
    if (held !== o.docs + 1) throw new Error(`server holds ${held} of ${o.docs + 1}`);
  }
  r.server.close();
  server.child.kill('SIGTERM');
  return out;
}

const o = parseArgs(process.argv.slice(2));
fs.mkdirSync(o.data, { recursive: true });
if (o.system === 'automerge-kiosk') {
  automergeKiosk(o).catch((e) => { console.error(e); process.exit(1); });
} else {
const run = o.system === 'pouchdb' ? pouchdb : automerge;
run(o).then(
  (out) => { console.log(`RESULT ${JSON.stringify(out)}`); process.exit(0); },
  (e) => { console.error(e); process.exit(1); },
);
}
