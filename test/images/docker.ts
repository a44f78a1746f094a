/**
 * For the image tests: is a Docker daemon answering here, and is the local base image there?
 * CI starts both (.ci/services/start.sh); elsewhere the tests say in their name why they skip.
 */
import {execFileSync} from 'node:child_process';

/** The locally made base (Debian bookworm + Node 20): no registry image can be pulled in CI. */
export const BASE = process.env.LLMOPS_TEST_BASE_IMAGE ?? 'llmops-test/bookworm-node:20';

export function dockerOut(args: string[], timeoutMs = 60_000): string {
  return execFileSync('docker', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs}).trim();
}

/** Why the image tests cannot run here, or '' when they can. */
export function dockerUnavailable(): string {
  try {
    dockerOut(['version', '--format', '{{.Server.Version}}'], 20_000);
  } catch {
    return 'no docker daemon answering (.ci/services/start.sh starts one)';
  }
  try {
    dockerOut(['image', 'inspect', '--format', '{{.Id}}', BASE]);
  } catch {
    return `no base image ${BASE} (.ci/services/start.sh makes it)`;
  }
  return '';
}

/** Containers llmops started (labelled dev.llmops.kind), optionally of one deployment or run. */
export function llmopsContainers(label = 'dev.llmops.kind'): string[] {
  return dockerOut(['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}']).split('\n').filter(Boolean);
}
