#!/usr/bin/env bash
# The main job, end to end on the embedded defaults: installs what is missing (asking first on a
# TTY), then runs the whole lifecycle in ./demo: init, data prep, train (tiny, CPU), LoRA finetune,
# deploy on loopback, real requests through the openai client, monitor + HTML report, cost, lineage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "$@"
exec node scripts/demo.mjs
