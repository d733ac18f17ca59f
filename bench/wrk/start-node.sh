#!/bin/bash
# Starts BIN on a fresh data directory DIR (127.0.0.1, a free port) with event E and 20 sessions,
# as the wrk runs of BENCHMARKS.md use; prints "URL TOKEN". Usage: start-node.sh BIN DIR
BIN=$1; D=$2; rm -rf $D; mkdir -p $D
$BIN --data-dir $D --listen 127.0.0.1:0 > $D.log 2>&1 &
echo $! > $D.pid
for i in $(seq 100); do [ -s $D/api-url ] && break; sleep 0.1; done
URL=$(cat $D/api-url); TOKEN=$(cat $D/api-token)
curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' $URL/v1/events -d '{"id":"E","title":"Bench","timezone":"UTC","provider":{"id":"P","name":"P"}}' >/dev/null
for s in $(seq 0 19); do
curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' $URL/v1/events/E/sessions -d "{\"id\":\"s$s\",\"title\":\"S$s\",\"category\":\"general\",\"starts_at\":\"2026-04-16T09:00:00Z\",\"segments\":[{\"kind\":\"instruction\",\"minutes\":60}]}" >/dev/null || echo session-fail
done
echo "$URL $TOKEN"
