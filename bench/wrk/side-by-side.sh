#!/bin/bash
# Runs the wrk check-in load against each binary in turn, ROUNDS times, each on a fresh data
# directory (start-node.sh), and prints per run: check-ins/s, p50, p99, how many were answered
# 201 (new) and 200 (retry: must be 0), storage transactions and jobs (the main database's,
# then the check-in log's where the binary has one: "main + log"), and the node's CPU
# per check-in from /proc/<pid>/stat. Only 127.0.0.1.
# Usage: side-by-side.sh CONNECTIONS SECONDS ROUNDS BIN...
set -euo pipefail
command -v wrk >/dev/null || { echo "side-by-side.sh needs wrk: apt-get install wrk" >&2; exit 1; }
C=$1; S=$2; ROUNDS=$3; shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
T=$([ "$C" = 1 ] && echo 1 || echo 2)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$T -c$C -d${S}s"
printf '| run | binary | check-ins/s | p50 | p99 | 201 | 200 | transactions | jobs | node CPU µs per check-in |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for r in $(seq "$ROUNDS"); do
  for BIN in "$@"; do
    D=$(mktemp -d /tmp/side-XXXXXX)
    read -r URL TOKEN < <("$HERE/start-node.sh" "$BIN" "$D/node")
    PID=$(cat "$D/node.pid")
    T0=$(awk '{print $14+$15}' "/proc/$PID/stat")
    OUT=$(TOKEN=$TOKEN wrk -t$T -c"$C" -d"${S}s" -s "$HERE/checkin.lua" --latency "$URL")
    T1=$(awk '{print $14+$15}' "/proc/$PID/stat")
    M=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics")
    kill "$PID"; wait "$PID" 2>/dev/null || true
    rm -rf "$D"
    metric() { echo "$M" | awk -v k="$1" 'index($0, k) == 1 {print $2}'; }
    NEW=$(metric 'cecd_http_requests_total{method="POST",route="/v1/checkins",status="201"}')
    OLD=$(metric 'cecd_http_requests_total{method="POST",route="/v1/checkins",status="200"}')
    RPS=$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')
    P50=$(echo "$OUT" | awk '$1 == "50%" {print $2}')
    P99=$(echo "$OUT" | awk '$1 == "99%" {print $2}')
    TICK=$(getconf CLK_TCK)
    CPU=$(( (T1 - T0) * 1000000 / TICK / ${NEW:-1} ))
    LOGB=$(metric cecd_log_write_batches_total); LOGJ=$(metric cecd_log_write_jobs_total)
    echo "| $r | $(basename "$BIN") | $RPS | $P50 | $P99 | ${NEW:-0} | ${OLD:-0} | $(metric cecd_write_batches_total)${LOGB:+ + $LOGB} | $(metric cecd_write_jobs_total)${LOGJ:+ + $LOGJ} | $CPU |"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
