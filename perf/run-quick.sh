#!/usr/bin/env bash
# Quick mode: every benchmark scenario with short jobs (a few seconds per case), then the churn report, into one
# markdown file perf/results/quick-<UTC time>.md. Rough numbers: for the published ones use the full run
# (see docs/benchmarks.md). Narrow it with FILTER, e.g. FILTER='*RentReturn*' perf/run-quick.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
filter="${FILTER:-*}"
churn_steps="${CHURN_STEPS:-300}"
project=perf/NativeArrayPool.Benchmarks
bin="$project/bin/Release/net10.0/NativeArrayPool.Benchmarks.dll"
stamp="$(date -u +%Y%m%dT%H%MZ)"
artifacts="$(mktemp -d)"
mkdir -p perf/results
out="perf/results/quick-$stamp.md"

dotnet build "$project" -c Release --nologo -v quiet
dotnet "$bin" --quick --filter "$filter" --artifacts "$artifacts" --exporters github

{
  echo "# Quick benchmark run, $stamp"
  echo
  echo "Rough numbers (short jobs; see docs/benchmarks.md for the full run). Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, kernel $(uname -r), .NET $(dotnet --version), load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
  for report in "$artifacts"/results/*-report-github.md; do
    [ -f "$report" ] || continue
    echo
    echo "## $(basename "$report" -report-github.md | sed 's/^NativeBuffers\.Benchmarks\.//')"
    echo
    # Drop BenchmarkDotNet's environment block (it is summarized above); keep the job line and the table.
    sed -n '/^Job=/,$p' "$report"
  done
  echo
  echo "## Churn (Gen-2 collections and peak RSS)"
  echo
  dotnet "$bin" churn "$churn_steps"
} > "$out"
rm -rf "$artifacts"
echo "Wrote $out"
