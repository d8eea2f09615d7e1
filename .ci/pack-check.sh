#!/usr/bin/env bash
# Packs every library under src/ into a local folder, then does what a user would: creates a fresh console
# project in a temp directory, adds NativeArrayPool from that folder with `dotnet add package`, builds and
# runs a small program that rents, grows and returns, and checks its output (including the packages'
# contents and that a rebuild gives the same assembly). Then a fresh web app adds NativeArrayPool.AspNetCore
# the same way, registers it with AddNativeMemoryPool() and echoes a body through Kestrel. A third fresh project
# checks the lease analyzer that ships inside NativeArrayPool: it flags the four lease bugs, and nothing in correct code. With --trimmed it also publishes the app self-contained with PublishTrimmed=true, fails on any
# trim warning, and runs the trimmed binary.
#   usage: .ci/pack-check.sh [--trimmed]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

trimmed=0
[ "${1:-}" = "--trimmed" ] && trimmed=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
# A version of its own for every run, so the NuGet cache never serves a package packed earlier.
suffix="check.$(date +%Y%m%d%H%M%S).$$"
version="0.1.0-$suffix"

fail() { echo "pack-check: $*" >&2; exit 1; }

echo "== pack ($version)"
for project in src/*/*.csproj; do
  dotnet pack "$project" -c Release -o "$feed" --nologo -v quiet \
    -p:VersionSuffix="$suffix" -p:ContinuousIntegrationBuild=true
done
ls "$feed"/NativeArrayPool."$version".nupkg >/dev/null || fail "NativeArrayPool.$version.nupkg was not produced"
ls "$feed"/NativeArrayPool."$version".snupkg >/dev/null || fail "the symbols package was not produced"

# Deterministic build: compile the library again from scratch; the consumer compares it with the packed assembly.
dotnet build src/NativeArrayPool/NativeArrayPool.csproj -c Release --no-incremental --nologo -v quiet \
  -p:VersionSuffix="$suffix" -p:ContinuousIntegrationBuild=true -o "$work/rebuild" >/dev/null

echo "== consume from $feed"
app="$work/app"
dotnet new console -o "$app" -n PackCheck --no-restore >/dev/null
# The local folder serves NativeArrayPool*, the default feed everything else (only SDK packs, if anything).
cat > "$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="NativeArrayPool*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
(cd "$app" && dotnet add package NativeArrayPool --version "$version" --source "$feed" >/dev/null)
cp .ci/pack-check/Program.cs "$app/Program.cs"

expect() {
  local output=$1 line=$2
  grep -qxF -- "$line" <<<"$output" || { echo "$output" >&2; fail "expected the line: $line"; }
}

check_output() {
  local output=$1
  echo "$output"
  expect "$output" "use: kept=True length=67108864 rents=1 returns=1 grows=1 backend=$backend"
  expect "$output" "environment: budget=777"
  expect "$output" "deterministic: NativeArrayPool.dll rebuilt byte for byte"
  for package in "$feed"/*.nupkg; do
    id=$(basename "$package" ".$version.nupkg")
    expect "$output" "package $id: complete"
  done
}

case "$(uname -s)" in Linux) backend=linux ;; *) backend=portable ;; esac

dotnet build "$app" -c Release --nologo -v quiet -warnaserror >/dev/null || dotnet build "$app" -c Release --nologo -warnaserror
output=$(NATIVEARRAYPOOL_MAPPINGBUDGET=777 dotnet run --project "$app" -c Release --no-build -- "$feed" "$work/rebuild/NativeArrayPool.dll")
check_output "$output"

echo "== the lease analyzer shipped in the package, in a fresh project"
leases="$work/leases"
dotnet new console -o "$leases" -n PackCheckLeases --no-restore >/dev/null
cp "$app/nuget.config" "$leases/nuget.config"
(cd "$leases" && dotnet add package NativeArrayPool --version "$version" --source "$feed" >/dev/null)
# Buggy code: exactly the NAP warnings its comments name, on those lines ("line id" pairs, sorted).
cp .ci/pack-check/LeaseBugs.cs "$leases/Program.cs"
expected=$(grep -n -o '// NAP[0-9]*$' "$leases/Program.cs" | sed 's|^\([0-9]*\):// \(NAP[0-9]*\)$|\1 \2|' | sort -u)
log=$(dotnet build "$leases" -c Release --nologo -v minimal 2>&1) || { echo "$log" >&2; fail "the lease-bug project does not build"; }
actual=$(grep -o 'Program.cs([0-9]*,[0-9]*): warning NAP[0-9]*' <<<"$log" | sed 's|Program.cs(\([0-9]*\),[0-9]*): warning \(NAP[0-9]*\)|\1 \2|' | sort -u)
echo "$actual" | sed 's/^/   flagged: line /'
[ "$(wc -l <<<"$expected")" -eq 4 ] || fail "LeaseBugs.cs should name four bugs"
[ "$actual" = "$expected" ] || { echo "$log" >&2; fail "the analyzer flagged [$actual], expected [$expected]"; }
# Correct code (try/finally, using, resize-then-return, handing off): not a single warning.
cp .ci/pack-check/LeaseCorrect.cs "$leases/Program.cs"
dotnet build "$leases" -c Release --nologo -v quiet -warnaserror >/dev/null || dotnet build "$leases" -c Release --nologo -warnaserror \
  || fail "the analyzer warned on correct lease code"
echo "analyzer: flags the four lease bugs, silent on correct code"

echo "== consume NativeArrayPool.AspNetCore in a fresh web app"
web="$work/web"
dotnet new console -o "$web" -n PackCheckWeb --no-restore >/dev/null
sed -i 's/Sdk="Microsoft.NET.Sdk"/Sdk="Microsoft.NET.Sdk.Web"/' "$web/PackCheckWeb.csproj"
cp "$app/nuget.config" "$web/nuget.config"
(cd "$web" && dotnet add package NativeArrayPool.AspNetCore --version "$version" --source "$feed" >/dev/null)
cp .ci/pack-check/WebProgram.cs "$web/Program.cs"
dotnet build "$web" -c Release --nologo -v quiet -warnaserror >/dev/null || dotnet build "$web" -c Release --nologo -warnaserror
output=$(dotnet run --project "$web" -c Release --no-build)
echo "$output"
expect "$output" "web: status=200 echoed=True nativePoolServed=True"

if [ "$trimmed" = 1 ]; then
  echo "== publish trimmed (self-contained, PublishTrimmed=true, trim warnings are errors)"
  rid=$(dotnet --info | sed -n 's/^ *RID: *//p' | head -1)
  log="$work/publish.log"
  if ! dotnet publish "$app" -c Release -r "$rid" --self-contained -p:PublishTrimmed=true \
       -p:TrimmerSingleWarn=false -p:TreatWarningsAsErrors=true -o "$work/trimmed" --nologo >"$log" 2>&1; then
    cat "$log" >&2; fail "trimmed publish failed"
  fi
  if grep -q "warning IL" "$log"; then grep "warning IL" "$log" >&2; fail "trim warnings"; fi
  output=$(NATIVEARRAYPOOL_MAPPINGBUDGET=777 "$work/trimmed/PackCheck" "$feed" "$work/rebuild/NativeArrayPool.dll")
  check_output "$output"
fi

echo "pack-check: passed"
