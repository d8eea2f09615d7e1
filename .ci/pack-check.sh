#!/usr/bin/env bash
# Packs the solution into a local folder, then does what docs/getting-started.md ("Install") tells a user to do:
# creates a fresh console project in a temp directory, gives it a nuget.config with that folder as a source, adds
# NativeArrayPool with `dotnet add package` at the version the pack printed, builds and runs a small program that
# rents, grows and returns, and checks its output (including the packages' contents and metadata, that a rebuild
# gives the same assembly, and that the app got exactly the assembly just packed). Everything the consumers restore
# goes to a private package folder, so no package cache from an earlier build can answer. Then a fresh web app adds
# NativeArrayPool.AspNetCore the same way, registers it with AddNativeMemoryPool() and echoes a body through Kestrel.
# A third fresh project checks the lease analyzer that ships inside NativeArrayPool: it flags the four lease bugs,
# and nothing in correct code. With --trimmed it also publishes the app self-contained with PublishTrimmed=true, fails on any trim warning, and
# runs the trimmed binary.
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

fail() { echo "pack-check: $*" >&2; exit 1; }

# The version a plain `dotnet pack` gives this tree: one per commit (src/Directory.Build.targets), no timestamp, so
# the pack and the rebuild below agree on it.
version=$(dotnet msbuild src/NativeArrayPool/NativeArrayPool.csproj -t:ComputeVersionFromGit -getProperty:PackageVersion -p:Configuration=Release)
commit=$(git rev-parse HEAD)
case "$version" in
  0.*-dev.*.g"${commit:0:7}"*) ;;
  *) fail "the version $version does not name the commit ${commit:0:7}" ;;
esac

echo "== pack ($version)"
# The documented command (`dotnet pack -c Release -o ./artifacts`), into the temp folder.
dotnet pack -c Release -o "$feed" --nologo -v quiet -p:ContinuousIntegrationBuild=true
ls "$feed"/NativeArrayPool."$version".nupkg >/dev/null || fail "NativeArrayPool.$version.nupkg was not produced"
ls "$feed"/NativeArrayPool."$version".snupkg >/dev/null || fail "the symbols package was not produced"

# Each package names the commit it was built from, and the clone's origin when that is on a server (the SDK's git
# support leaves out a local-path origin, as a CI clone may have).
origin=$(git remote get-url origin 2>/dev/null || true)
case "$origin" in http://*|https://*|ssh://*|git@*) ;; *) origin= ;; esac
for package in "$feed"/*.nupkg; do
  nuspec=$(unzip -p "$package" '*.nuspec')
  grep -qF "<version>$version</version>" <<<"$nuspec" || fail "$(basename "$package"): its nuspec does not say version $version"
  grep -qE "<repository type=\"git\"[^>]* commit=\"$commit\"" <<<"$nuspec" || fail "$(basename "$package"): no <repository type=\"git\" commit=\"$commit\"> in its nuspec"
  if [ -n "$origin" ]; then
    grep -qE "<repository [^>]*url=\"https?://" <<<"$nuspec" || fail "$(basename "$package"): no repository url though the clone's origin is on a server"
    grep -qE "<projectUrl>https?://" <<<"$nuspec" || fail "$(basename "$package"): no project url though the clone's origin is on a server"
  fi
done

# Deterministic build: compile the library again from scratch; the consumer compares it with the packed assembly.
dotnet build src/NativeArrayPool/NativeArrayPool.csproj -c Release --no-incremental --nologo -v quiet \
  -p:ContinuousIntegrationBuild=true -o "$work/rebuild" >/dev/null

# From here on, everything restored goes to a folder of this run's own: a package cache that already holds some
# NativeArrayPool (an earlier build, another branch) cannot be what the consumers get.
export NUGET_PACKAGES="$work/packages"

echo "== consume from $feed"
app="$work/app"
dotnet new console -o "$app" -n PackCheck --no-restore >/dev/null
# The Install steps of docs/getting-started.md: a nuget.config with the folder as a source, then the exact version.
(cd "$app" && dotnet new nuget.config >/dev/null \
  && dotnet nuget add source "$feed" -n nativearraypool-local --configfile nuget.config >/dev/null \
  && dotnet add package NativeArrayPool --version "$version" >/dev/null)
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
  expect "$output" "version: $version+$commit"
  for package in "$feed"/*.nupkg; do
    id=$(basename "$package" ".$version.nupkg")
    expect "$output" "package $id: complete"
  done
}

case "$(uname -s)" in Linux) backend=linux ;; *) backend=portable ;; esac

dotnet build "$app" -c Release --nologo -v quiet -warnaserror >/dev/null || dotnet build "$app" -c Release --nologo -warnaserror

# The app got the assembly just packed, restored into this run's package folder.
restored="$NUGET_PACKAGES/nativearraypool/$version"
[ -f "$restored/nativearraypool.nuspec" ] || fail "NativeArrayPool $version was not restored into $NUGET_PACKAGES"
grep -qF "commit=\"$commit\"" "$restored/nativearraypool.nuspec" || fail "the restored package does not name the commit $commit"
cmp -s "$restored/lib/net10.0/NativeArrayPool.dll" "$work/rebuild/NativeArrayPool.dll" || fail "the restored NativeArrayPool.dll is not the one just built"
cmp -s "$app/bin/Release/net10.0/NativeArrayPool.dll" "$work/rebuild/NativeArrayPool.dll" || fail "the app's NativeArrayPool.dll is not the one just built"
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
(cd "$web" && dotnet add package NativeArrayPool.AspNetCore --version "$version" >/dev/null)
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
