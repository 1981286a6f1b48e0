#!/usr/bin/env bash
# Runs every test of the solution, the way CI does, and ends with one line "N passed, N failed".
# Installs and starts what the integration tests need (see tests/setup.sh), so a fresh machine with
# the .NET 10 SDK needs nothing else.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

if [ -f "$root/tests/setup.sh" ]; then
  bash "$root/tests/setup.sh" || { echo "tests/setup.sh failed" >&2; echo "0 passed, 1 failed"; exit 1; }
fi

dotnet test "$root/EmStreaming.sln" -c Release \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
status=$?

# dotnet test prints a summary per test project only; add the whole-suite line CI reads.
summary=$(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    c = ET.parse(f).getroot().find(".//{*}ResultSummary/{*}Counters")
    if c is None:
        continue
    passed += int(c.get("passed", 0))
    failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    skipped += int(c.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
)
# CI shows only the tail of the output: name every failed test (and its first message lines) just above the summary.
failures=$(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
for f in sorted(glob.glob(sys.argv[1] + "/**/*.trx", recursive=True)):
    root = ET.parse(f).getroot()
    for r in root.iter("{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}UnitTestResult"):
        if r.get("outcome") in ("Passed", "NotExecuted"):
            continue
        msg = r.find(".//{*}ErrorInfo/{*}Message")
        text = (msg.text or "").strip().splitlines() if msg is not None else []
        print(f"FAILED {r.get('testName')} ({r.get('outcome')}, {r.get('duration')})")
        for line in text[:6]:
            print("    " + line[:300])
PY
)
if [ "$status" -ne 0 ] && [[ "$summary" == *" 0 failed"* ]]; then
  # The build or the test host failed before any test could report: count it as a failure.
  summary="${summary%%,*}, 1 failed"
  echo "No test failed in the result files, yet dotnet test exited with $status (a build error or a crashed test host)."
  echo "Result files written: $(find "$results" -name '*.trx' | wc -l) for $(ls -d "$root"/tests/*.Tests | wc -l) test projects."
  grep -h -E "error [A-Z]+[0-9]+|Test host process crashed|aborted" "$results"/*.log 2>/dev/null | head -5
fi
[ -n "$failures" ] && echo "$failures"
echo "$summary"
exit "$status"
