/** Finding the deployment a user means, with a helpful error when there is none. */
import {notFoundError} from '../errors.js';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';

/** By id or name; with no argument, the newest running deployment, else the newest one. */
export function resolveDeployment(ledger: Ledger, idOrName?: string): DeploymentRow {
  if (idOrName) {
    const dep = ledger.findDeployment(idOrName) ?? ledger.deployments.findByPrefix(idOrName);
    if (dep) return dep;
    const known = ledger.listDeployments().slice(0, 5).map((d) => `${d.id} (${d.name})`);
    throw notFoundError(`No deployment "${idOrName}" in the ledger (${ledger.file}).`, {
      fix: known.length > 0 ? `Try this: one of ${known.join(', ')}; \`llmops deploy list\` shows all.` : 'Try this: `llmops deploy RUN_ID` to start one.',
      details: {deployment: idOrName},
    });
  }
  const all = ledger.listDeployments();
  const dep = all.find((d) => d.status === 'running') ?? all[0];
  if (!dep) {
    throw notFoundError(`No deployments in the ledger (${ledger.file}): nothing to monitor.`, {
      fix: 'Try this: `llmops deploy RUN_ID` to serve a model, or `llmops monitor --run RUN_ID` to watch a training run.',
    });
  }
  return dep;
}

