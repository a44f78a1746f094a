/**
 * `deploy --follow-alias`: the server polls the registry and, when the alias it was started from
 * moves (a promotion, a rollback), loads the new version and switches to it without dropping a
 * request (server.reload). Each switch is recorded in deployment_models.
 */
import type {Ledger} from '../ledger/ledger.js';
import {resolveModelRef} from '../registry/resolve.js';
import type {RunningServer} from './server.js';

export const FOLLOW_INTERVAL_MS = 1000;

export function followAlias(ledger: Ledger, deploymentId: string, server: RunningServer, root: string, progress: (m: string) => void): () => void {
  const rec = ledger.registry.deploymentModels(deploymentId).at(-1);
  if (!rec?.alias) return () => {};
  let current = rec.version;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const move = ledger.registry.lastAliasMove(rec.name, rec.alias!);
    if (!move || move.to_version === current) return;
    busy = true;
    const to = move.to_version;
    void (async () => {
      try {
        const r = resolveModelRef(ledger, root, `${rec.name}@v${to}`);
        if (!r.dir) throw new Error(`${rec.name}@v${to} is not a local model folder`);
        progress(`${rec.model_ref} moved to v${to}: loading ${r.dir}...`);
        await server.reload(r.dir, r.runId ?? null);
        ledger.registry.recordDeploymentModel({deploymentId, modelRef: rec.model_ref, name: rec.name, alias: rec.alias, version: to});
        current = to;
        progress(`Now serving ${rec.name}@v${to}.`);
      } catch (error) {
        // Keep serving what works; try again on the next move.
        current = to;
        progress(`Could not switch to ${rec.name}@v${to}: ${(error as Error).message}; still serving v${rec.version}.`);
      } finally {
        busy = false;
      }
    })();
  }, FOLLOW_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
