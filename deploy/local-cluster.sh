#!/usr/bin/env bash
# Azurite plus N EmStreaming silos on loopback, one Orleans cluster on one (emulated) Azure Storage account:
# membership in Tables, grain state and snapshot history in Blobs, observation streams in Queues.
#
#   deploy/local-cluster.sh N [--data DIR] [--no-build] [-- extra settings for every silo, e.g. --Logging:LogLevel:Default=Debug]
#
# Every silo gets its own HTTP, silo and gateway port (free ports picked at start) and prints its URL once /readyz answers.
# Any silo accepts any request. Ctrl+C (or SIGTERM) stops every silo, then Azurite. Data (Azurite's workspace and each
# silo's local folder) stays under DIR (default ./data/local-cluster) so a second run continues the same cluster state;
# delete DIR to start over. Needs Azurite in .tools/azurite (bash tests/setup.sh installs it) and the .NET 10 SDK.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^#   //' >&2; exit 2; }
[ $# -ge 1 ] || usage
count="$1"; shift
[[ "$count" =~ ^[1-9][0-9]?$ ]] || { echo "local-cluster.sh: N must be a whole number from 1 to 99, got '$count'" >&2; exit 2; }
data="$root/data/local-cluster"
build=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) [ $# -ge 2 ] || usage; data="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --no-build) build=0; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "local-cluster.sh: unknown option '$1'" >&2; usage ;;
  esac
done

azurite="${EMSTREAMING_AZURITE:-$root/.tools/azurite/node_modules/.bin/azurite}"
[ -x "$azurite" ] || { echo "local-cluster.sh: Azurite not found at $azurite; run 'bash tests/setup.sh' first" >&2; exit 2; }
emstream="$root/src/EmStreaming.Cli/bin/Release/net10.0/emstream.dll"
if [ "$build" -eq 1 ]; then
  echo "local-cluster.sh: building emstream (Release)" >&2
  dotnet build "$root/src/EmStreaming.Cli/EmStreaming.Cli.csproj" -c Release -nologo -v quiet >/dev/null
fi
[ -f "$emstream" ] || { echo "local-cluster.sh: $emstream is missing (run without --no-build)" >&2; exit 2; }

# 3 ports for Azurite and 3 per silo, all distinct and free on 127.0.0.1 right now.
read -r -a ports <<<"$(python3 - "$((3 + 3 * count))" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)"

pids=()
stop() {
  trap - INT TERM EXIT
  echo >&2
  echo "local-cluster.sh: stopping ${#pids[@]} processes" >&2
  # Silos first (they write their snapshots to Azurite on the way down), Azurite last; a silo still running after
  # 60 s is killed, so Ctrl+C always ends everything.
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for _ in $(seq 1 120); do
    alive=0
    for ((i = 1; i < ${#pids[@]}; i++)); do kill -0 "${pids[$i]}" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.5
  done
  for ((i = 1; i < ${#pids[@]}; i++)); do kill -KILL "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
  if [ ${#pids[@]} -gt 0 ]; then kill -TERM "${pids[0]}" 2>/dev/null || true; wait "${pids[0]}" 2>/dev/null || true; fi
  exit 0
}
trap stop INT TERM EXIT

mkdir -p "$data/azurite" "$data/logs"
blob=${ports[0]} queue=${ports[1]} table=${ports[2]}
"$azurite" --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
  --tableHost 127.0.0.1 --tablePort "$table" --location "$data/azurite" --disableTelemetry --skipApiVersionCheck --silent \
  >"$data/logs/azurite.log" 2>&1 &
pids+=($!)
account="devstoreaccount1"
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
connection="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/$account;QueueEndpoint=http://127.0.0.1:$queue/$account;TableEndpoint=http://127.0.0.1:$table/$account;"
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$table/$account" && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "local-cluster.sh: Azurite exited; see $data/logs/azurite.log" >&2; exit 1; }
  sleep 0.2
done
echo "local-cluster.sh: Azurite on 127.0.0.1 (blob $blob, queue $queue, table $table), data in $data/azurite" >&2
echo "AzureStorage:ConnectionString=$connection"

urls=()
for ((i = 0; i < count; i++)); do
  http=${ports[$((3 + 3 * i))]} silo=${ports[$((4 + 3 * i))]} gateway=${ports[$((5 + 3 * i))]}
  mkdir -p "$data/silo-$i"
  # A 64 MB gen0 budget, as the Dockerfile sets it (the GC reads it only from the environment).
  DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x4000000}" \
  dotnet "$emstream" serve --urls "http://127.0.0.1:$http" --data-dir "$data/silo-$i" \
    --Orleans:Clustering=AzureStorage --Orleans:ClusterId=local-cluster --Orleans:ServiceId=emstreaming \
    --Orleans:SiloPort="$silo" --Orleans:GatewayPort="$gateway" \
    --Storage:Provider=AzureStorage --Streams:Provider=AzureQueue \
    --AzureStorage:ConnectionString="$connection" \
    "${extra[@]}" >"$data/logs/silo-$i.log" 2>&1 &
  pids+=($!)
  urls+=("http://127.0.0.1:$http")
done

for ((i = 0; i < count; i++)); do
  until curl -sf -o /dev/null "${urls[$i]}/readyz"; do
    kill -0 "${pids[$((i + 1))]}" 2>/dev/null || { echo "local-cluster.sh: silo $i exited; see $data/logs/silo-$i.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "silo $i: ${urls[$i]}  (log $data/logs/silo-$i.log)"
done
echo "local-cluster.sh: $count silos ready; Ctrl+C stops them all" >&2
wait
