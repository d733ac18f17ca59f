// An automerge-repo sync server, the peer that `cec-bench sync` measures cecd against: set up
// as @automerge/automerge-repo-sync-server sets it up (a Repo with the WebSocket server adapter
// and the NodeFS storage adapter, sharing nothing unasked), plus two routes for the benchmark.
//
//   node automerge-server.mjs PORT DATA_DIR
//
// Listens on 127.0.0.1:PORT (0 picks a free port) and prints `listening on
// http://127.0.0.1:<port>`. WebSocket upgrades on any path go to the repo. `POST /count`
// {docs, want} answers {count}: the check-ins (keys of `checkins`) the repo holds in those
// documents, after `repo.flush()` once the count reaches `want`. `POST /seed` {n} creates n
// documents of one check-in each and answers {ids}. Storage writes files without fsync.
import http from 'node:http';
import fs from 'node:fs';
import { WebSocketServer } from 'ws';
import { Repo } from '@automerge/automerge-repo';
import { WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';

const [port, dataDir] = process.argv.slice(2);
if (port === undefined || dataDir === undefined) {
  console.error('usage: node automerge-server.mjs PORT DATA_DIR');
  process.exit(2);
}
fs.mkdirSync(dataDir, { recursive: true });

const wss = new WebSocketServer({ noServer: true });
const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dataDir),
  peerId: 'storage-server-bench',
  // The sync server's policy: do not announce documents to peers that did not ask.
  sharePolicy: async () => false,
});

function count(ids) {
  let n = 0;
  for (const id of ids) {
    const h = repo.handles[id];
    if (h && h.isReady()) n += Object.keys(h.doc().checkins ?? {}).length;
  }
  return n;
}

async function body(req) {
  let s = '';
  for await (const chunk of req) s += chunk;
  return JSON.parse(s);
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/count') {
      const { docs, want } = await body(req);
      const n = count(docs);
      if (n >= want) await repo.flush(docs);
      res.end(JSON.stringify({ count: n }));
    } else if (req.method === 'POST' && req.url === '/seed') {
      const { n } = await body(req);
      const ids = [];
      for (let i = 0; i < n; i++) {
        const h = repo.create({ checkins: { [`d${i}`]: JSON.stringify({ member_id: 'M1', direction: 'in', at: '2027-03-01T09:00:00Z', method: 'badge', kiosk_id: 'central', recorded_at: '2027-03-01T09:00:00Z', event_id: 'E1', session_id: `s${i}` }) } });
        ids.push(h.documentId);
      }
      await repo.flush();
      res.end(JSON.stringify({ ids }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  } catch (e) {
    console.error(e);
    res.statusCode = 500;
    res.end(String(e));
  }
});
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
const stop = () => server.close(() => repo.shutdown().then(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
