#!/usr/bin/env bash
# Load comparison: the KestrelEcho sample with Kestrel's default memory pool vs NativeMemoryPool (plus
# NativeSocketTransportFactory), same wrk settings, alternating pools round by round to spread machine noise.
# Records requests/s, latency percentiles (wrk --latency), peak RSS (VmHWM) and GC counts / allocated bytes
# during the measured run (from /stats), and writes a markdown table.
#
#   perf/kestrel-wrk.sh                      # defaults below
#   DURATION=30s BODIES="16 64" ROUNDS=3 perf/kestrel-wrk.sh
#
# Not part of the test suite. Needs wrk (installed with apt-get if missing, which needs root) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
BODIES=${BODIES:-"16 64"}          # request body sizes in KiB
ROUNDS=${ROUNDS:-2}                # each round runs every pool once
POOLS=${POOLS:-"default native transport"}  # transport = NativeSocketTransportFactory over Kestrel's pinned pool
PORT=${PORT:-5080}
OUT=${OUT:-perf/results/kestrel-wrk-$(date -u +%Y%m%dT%H%M%SZ).md}

if ! command -v wrk >/dev/null 2>&1; then
  echo "Installing wrk..." >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null 2>&1 || { echo "curl is required" >&2; exit 1; }

dotnet build samples/KestrelEcho -c Release -nologo -v q >/dev/null
DLL=samples/KestrelEcho/bin/Release/net10.0/KestrelEcho.dll
mkdir -p "$(dirname "$OUT")"

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

field() { grep -o "\"$1\":[0-9-]*" | head -1 | cut -d: -f2; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for round in $(seq 1 "$ROUNDS"); do
  for kib in $BODIES; do
    for pool in $POOLS; do
      dotnet "$DLL" --port "$PORT" --pool "$pool" >/dev/null 2>&1 &
      server_pid=$!
      for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/stats" >/dev/null 2>&1 && break; sleep 0.1; done
      export BODY_BYTES=$((kib * 1024))
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s perf/kestrel-wrk.lua "http://127.0.0.1:$PORT/echo" >/dev/null
      before=$(curl -sf "http://127.0.0.1:$PORT/stats")
      result=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s perf/kestrel-wrk.lua "http://127.0.0.1:$PORT/echo")
      after=$(curl -sf "http://127.0.0.1:$PORT/stats")
      hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
      kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

      rps=$(echo "$result" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$result" | awk '/^ +50%/ {print $2}')
      p90=$(echo "$result" | awk '/^ +90%/ {print $2}')
      p99=$(echo "$result" | awk '/^ +99%/ {print $2}')
      errors=$(echo "$result" | grep -E "Socket errors|Non-2xx" | tr -s ' ' | tr '\n' ';' || true)
      g0=$(( $(echo "$after" | field gen0Collections) - $(echo "$before" | field gen0Collections) ))
      g1=$(( $(echo "$after" | field gen1Collections) - $(echo "$before" | field gen1Collections) ))
      g2=$(( $(echo "$after" | field gen2Collections) - $(echo "$before" | field gen2Collections) ))
      alloc=$(( ($(echo "$after" | field allocatedBytes) - $(echo "$before" | field allocatedBytes)) / 1048576 ))
      row="| $round | ${kib} KiB | $pool | $rps | $p50 | $p90 | $p99 | $((hwm_kb / 1024)) | $g0 / $g1 / $g2 | $alloc | ${errors:-none} |"
      echo "$row" >&2
      rows+=("$row")
    done
  done
done

{
  echo "Command: \`THREADS=$THREADS CONNECTIONS=$CONNECTIONS DURATION=$DURATION WARMUP=$WARMUP BODIES=\"$BODIES\" ROUNDS=$ROUNDS POOLS=\"$POOLS\" perf/kestrel-wrk.sh\`"
  echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, POST /echo after a $WARMUP warm-up; one fresh server process per row)"
  echo
  echo "Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(dotnet --version) SDK, wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')."
  echo
  echo "| round | body | pool | requests/s | p50 | p90 | p99 | peak RSS (MiB) | GCs gen0 / gen1 / gen2 (measured run) | allocated (MiB, measured run) | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$OUT"
cat "$OUT"
echo "Written to $OUT" >&2
