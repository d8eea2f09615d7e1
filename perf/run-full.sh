#!/usr/bin/env bash
# The full run behind docs/benchmarks.md: every scenario with the suite's full jobs (about 30-40 minutes on the
# 2-core reference machine), then the churn report, into perf/results/full-<UTC time>.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
filter="${FILTER:-*}"
project=perf/NativeArrayPool.Benchmarks
bin="$project/bin/Release/net10.0/NativeArrayPool.Benchmarks.dll"
stamp="$(date -u +%Y%m%dT%H%MZ)"
artifacts="$(mktemp -d)"
mkdir -p perf/results
out="perf/results/full-$stamp.md"

dotnet build "$project" -c Release --nologo -v quiet
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
dotnet "$bin" --filter "$filter" --artifacts "$artifacts" --exporters github
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

{
  echo "# Full benchmark run, $stamp"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, kernel $(uname -r), .NET SDK $(dotnet --version). Load average (1/5/15 min) at start $load_start, at end $load_end."
  for report in "$artifacts"/results/*-report-github.md; do
    [ -f "$report" ] || continue
    echo
    echo "## $(basename "$report" -report-github.md | sed 's/^NativeBuffers\.Benchmarks\.//')"
    echo
    sed -n '/^Job=/,$p' "$report"
  done
  echo
  echo "## Churn (Gen-2 collections and peak RSS)"
  echo
  dotnet "$bin" churn "${CHURN_STEPS:-1000}"
} > "$out"
rm -rf "$artifacts"
echo "Wrote $out"
