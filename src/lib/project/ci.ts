/**
 * `llmops init --ci github|gitlab`: the retrain loop as a CI workflow. On a schedule it runs
 * `llmops monitor --check` against the production deployment; exit 7 (a drift or SLO breach) runs
 * `llmops pipeline run`, which prepares the new data, fine-tunes, evaluates and promotes only a
 * better model. Any other non-zero exit fails the job (a missing deployment is not a breach).
 *
 * The job needs the project's ledger (.llmops/) and the deployment, so it runs on a self-hosted
 * runner in the project's checkout. The commands live in one shell script per step, in the same
 * file, so they can be run (and tested) outside CI.
 */
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {ScaffoldedFile} from './scaffold.js';

/** The monitor step: sets breach=true on exit 7, fails on other errors. */
export const MONITOR_SCRIPT = `set +e
llmops monitor "$LLMOPS_DEPLOYMENT" --check --since "$LLMOPS_WINDOW"
code=$?
set -e
if [ "$code" = 7 ]; then echo "breach=true" >> "$LLMOPS_OUTPUT"; echo "SLO or drift breach: retraining"
elif [ "$code" != 0 ]; then exit "$code"
else echo "breach=false" >> "$LLMOPS_OUTPUT"; fi`;

export const RETRAIN_SCRIPT = `llmops pipeline run
llmops models show "$LLMOPS_MODEL"`;

const indent = (text: string, n: number) => text.split('\n').map((l) => ' '.repeat(n) + l).join('\n');

function github(): string {
  return `# llmops retrain loop (written by \`llmops init --ci github\`; see docs/pipeline.md).
# Every hour: check the production deployment; on a drift or SLO breach (exit 7), run the pipeline,
# which promotes the new model only if it passes the promote checks.
name: llmops retrain
on:
  schedule:
    - cron: "17 * * * *"
  workflow_dispatch: {}
concurrency: llmops-retrain
env:
  LLMOPS_DEPLOYMENT: default   # the deployment serving the production alias (llmops deploy list)
  LLMOPS_MODEL: chat           # the registry name the pipeline's promote stage moves
  LLMOPS_WINDOW: 24h
jobs:
  retrain:
    # The ledger (.llmops/) and the deployment live on the project's machine.
    runs-on: self-hosted
    steps:
      - uses: actions/checkout@v4
        with: {clean: false}
      - id: monitor
        name: Check the production deployment
        env: {LLMOPS_OUTPUT: "\${{ github.output }}"}
        shell: bash
        run: |
${indent(MONITOR_SCRIPT, 10)}
      - name: Retrain on a breach
        if: steps.monitor.outputs.breach == 'true'
        shell: bash
        run: |
${indent(RETRAIN_SCRIPT, 10)}
`;
}

function gitlab(): string {
  return `# llmops retrain loop (written by \`llmops init --ci gitlab\`; see docs/pipeline.md).
# Create a pipeline schedule (CI/CD > Schedules, e.g. every hour). On a drift or SLO breach (exit 7)
# the pipeline runs, and promotes the new model only if it passes the promote checks.
variables:
  LLMOPS_DEPLOYMENT: default   # the deployment serving the production alias (llmops deploy list)
  LLMOPS_MODEL: chat           # the registry name the pipeline's promote stage moves
  LLMOPS_WINDOW: 24h
  GIT_CLEAN_FLAGS: none        # keep .llmops/ (the ledger) between jobs
llmops-retrain:
  # The ledger (.llmops/) and the deployment live on the project's machine: a shell runner there.
  tags: [llmops]
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
    - if: $CI_PIPELINE_SOURCE == "web"
  resource_group: llmops-retrain
  script:
    - export LLMOPS_OUTPUT=$(mktemp)
    - |
${indent(MONITOR_SCRIPT, 6)}
    - |
      if grep -q "breach=true" "$LLMOPS_OUTPUT"; then
${indent(RETRAIN_SCRIPT, 8)}
      fi
`;
}

export function ciWorkflowPath(kind: 'github' | 'gitlab'): string {
  return kind === 'github' ? path.join('.github', 'workflows', 'llmops-retrain.yml') : '.gitlab-ci.yml';
}

export function writeCiWorkflow(root: string, kind: 'github' | 'gitlab'): ScaffoldedFile {
  const rel = ciWorkflowPath(kind);
  const target = path.join(root, rel);
  if (existsSync(target)) return {path: rel, action: 'skipped'};
  mkdirSync(path.dirname(target), {recursive: true});
  writeFileSync(target, kind === 'github' ? github() : gitlab());
  return {path: rel, action: 'created'};
}
