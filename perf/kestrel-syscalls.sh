#!/usr/bin/env bash
# Load-independent costs per request of the KestrelEcho sample: system calls (perf stat on syscall tracepoints of the
# server process), bytes allocated and thread-pool work items completed (the sample's /stats), for each pool and body
# size. Counts per request do not depend on how busy the machine is, unlike requests/s; use this to compare
# transports on a loaded machine and perf/kestrel-wrk.sh for throughput on a quiet one.
#
#   perf/kestrel-syscalls.sh                           # defaults below
#   BODIES="64" POOLS="default transport" perf/kestrel-syscalls.sh
#
# Needs perf with tracepoint access (root), wrk and curl. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-8}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
BODIES=${BODIES:-"16 64"}          # request body sizes in KiB
POOLS=${POOLS:-"default transport native"}
PORT=${PORT:-5080}

command -v wrk >/dev/null 2>&1 || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
command -v perf >/dev/null 2>&1 || { echo "perf is required" >&2; exit 1; }

dotnet build samples/KestrelEcho -c Release -nologo -v q >/dev/null
DLL=samples/KestrelEcho/bin/Release/net10.0/KestrelEcho.dll

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

# user and system CPU time of a process so far, in clock ticks (fields 14 and 15 of /proc/PID/stat)
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
field() { grep -o "\"$1\":[0-9-]*" | head -1 | cut -d: -f2; }
CALLS="sendto sendmsg recvfrom recvmsg epoll_wait futex"
events="raw_syscalls:sys_enter"
for call in $CALLS; do events="$events,syscalls:sys_enter_$call"; done

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION POST /echo after a $WARMUP warm-up; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| body | pool | requests | requests/s | syscalls/req | $(echo $CALLS | sed 's/ /\/req | /g')/req | allocated B/req | work items/req | server CPU µs/req user / sys |"
echo "|---|---|---|---|---|$(for _ in $CALLS; do printf -- '---|'; done)---|---|---|"
for kib in $BODIES; do
  for pool in $POOLS; do
    dotnet "$DLL" --port "$PORT" --pool "$pool" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/stats" >/dev/null 2>&1 && break; sleep 0.1; done
    export BODY_BYTES=$((kib * 1024))
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s perf/kestrel-wrk.lua "http://127.0.0.1:$PORT/echo" >/dev/null
    before=$(curl -sf "http://127.0.0.1:$PORT/stats")
    cpu_before=$(cpu_ticks "$server_pid")
    counts=$(mktemp)
    result=$(perf stat -x, -o "$counts" -e "$events" -p "$server_pid" -- \
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s perf/kestrel-wrk.lua "http://127.0.0.1:$PORT/echo")
    cpu_after=$(cpu_ticks "$server_pid")
    after=$(curl -sf "http://127.0.0.1:$PORT/stats")
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

    requests=$(echo "$result" | awk '/requests in/ {print $1}')
    rps=$(echo "$result" | awk '/Requests\/sec/ {print $2}')
    per() { awk -v n="$1" -v r="$requests" 'BEGIN { printf "%.1f", n / r }'; }
    count() { awk -F, -v e="$1" '$3 == e {print $1}' "$counts"; }
    row="| ${kib} KiB | $pool | $requests | $rps | $(per "$(count raw_syscalls:sys_enter)") |"
    for call in $CALLS; do row="$row $(per "$(count "syscalls:sys_enter_$call")") |"; done
    alloc=$(( $(echo "$after" | field allocatedBytes) - $(echo "$before" | field allocatedBytes) ))
    items=$(( $(echo "$after" | field threadPoolWorkItems) - $(echo "$before" | field threadPoolWorkItems) ))
    read -r user0 sys0 <<<"$cpu_before"; read -r user1 sys1 <<<"$cpu_after"
    row="$row $(per "$alloc") | $(per "$items") | $(per $(( (user1 - user0) * TICK_US ))) / $(per $(( (sys1 - sys0) * TICK_US ))) |"
    echo "$row"
    rm -f "$counts"
  done
done
echo
echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg). $(nproc) CPUs, kernel $(uname -r), $(dotnet --version) SDK."
