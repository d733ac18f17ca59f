// PouchDB 9 under express-pouchdb 4.2, the peer that `cec-bench ingest` measures cecd against.
//
//   node ingest-server.js PORT DATA_DIR
//
// Listens on 127.0.0.1:PORT (0 picks a free port) and prints one line,
// `listening on http://127.0.0.1:<port>`, once the `checkins` database exists. Databases are
// LevelDB directories under DATA_DIR (PouchDB's default adapter in Node). LevelDB's default
// writes do not fsync: an answered PUT survives a crash of this process (the write is in the OS
// page cache), not necessarily a power loss. Stops on SIGTERM/SIGINT.
'use strict';

const path = require('path');
const fs = require('fs');
const express = require('express');
const PouchDB = require('pouchdb');
const expressPouchDB = require('express-pouchdb');

const [port, dataDir] = process.argv.slice(2);
if (port === undefined || dataDir === undefined) {
  console.error('usage: node ingest-server.js PORT DATA_DIR');
  process.exit(2);
}
fs.mkdirSync(dataDir, { recursive: true });

const DB = PouchDB.defaults({ prefix: path.join(dataDir, path.sep) });
const app = express();
// `minimumForPouchDB`: the CouchDB document API without Fauxton, replicator or config files.
// The in-memory config keeps express-pouchdb from writing config.json and log.txt in the cwd.
app.use('/', expressPouchDB(DB, { mode: 'minimumForPouchDB', inMemoryConfig: true, logPath: path.join(dataDir, 'log.txt') }));

async function main() {
  const db = new DB('checkins');
  await db.info();
  console.log(`adapter: ${db.adapter}`);
  const server = app.listen(Number(port), '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
  server.keepAliveTimeout = 60_000;
  const stop = () => server.close(() => db.close().then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
