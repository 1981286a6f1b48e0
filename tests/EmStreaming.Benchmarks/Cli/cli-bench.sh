#!/usr/bin/env bash
# CLI figures of docs/benchmarks.md ("The CLI on big files"): peak RSS and wall time of `emstream fit` and `stream` on a
# generated 1,000,000 x 8 CSV (68 MB), the time to refuse a bad flag, and a fresh process's first fit.
#   tests/EmStreaming.Benchmarks/Cli/cli-bench.sh [EMSTREAM] [RUNS]
# EMSTREAM defaults to the ReadyToRun tool published into $WORK/tool; RUNS (default 3) runs of each command.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=${WORK:-/tmp/emstream-cli-bench}
RUNS=${2:-3}
mkdir -p "$WORK"
if [[ -z "${1:-}" ]]; then
  dotnet publish "$ROOT/src/EmStreaming.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$WORK/tool" >/dev/null
fi
EMSTREAM=${1:-$WORK/tool/emstream}
DATA="$WORK/big.csv"
if [[ ! -f "$DATA" ]]; then
  python3 - "$DATA" <<'PY'
import random, sys
random.seed(12)
centres = [[random.uniform(-5, 5) for _ in range(8)] for _ in range(4)]
with open(sys.argv[1], "w") as f:
    f.write(",".join(f"x{j}" for j in range(8)) + "\n")
    for i in range(1_000_000):
        c = centres[i % 4]
        f.write(",".join(f"{c[j] + random.gauss(0, 1):.5f}" for j in range(8)) + "\n")
PY
fi
ls -l "$DATA"
measure() { # label, command...
  local label=$1; shift
  for _ in $(seq "$RUNS"); do
    echo "$(uptime | sed 's/.*load average: //') | $label | $(/usr/bin/time -f '%e s wall, %U s user + %S s sys CPU, %M KB peak RSS' "$@" 2>&1 >/dev/null | tail -1)"
  done
}
measure "fit -k 4" "$EMSTREAM" fit "$DATA" --components 4 --seed 1 --json
measure "stream -k 4" "$EMSTREAM" stream "$DATA" --components 4 --report-every 1000000 --json
measure "fit --max-iter 0 (refused)" "$EMSTREAM" fit "$DATA" --components 4 --max-iter 0
measure "first fit, faithful" "$EMSTREAM" fit "$ROOT/samples/faithful.csv" --components 2 --json
