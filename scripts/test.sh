#!/usr/bin/env bash
# Installs everything the tests need (system packages, npm packages), starts the real services
# they talk to (sshd and a one-node Slurm cluster on loopback), runs the whole test suite, and
# stops the services again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev --yes
if [ "$(id -u)" = 0 ]; then
  bash .ci/services/start.sh
  trap 'bash .ci/services/stop.sh' EXIT
else
  echo "test: not root: sshd and Slurm are not started; the remote-backend tests will say they are skipped." >&2
fi
rm -f test-artifacts/vitest.json
status=0
npm test || status=$?
# One plain closing line with the counts, whatever the runner printed before it.
node -e '
const r = JSON.parse(require("fs").readFileSync("test-artifacts/vitest.json", "utf8"));
console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests || 0)} skipped`);
' 2>/dev/null || true
exit $status
