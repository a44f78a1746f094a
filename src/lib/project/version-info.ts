/**
 * What `llmops version --verbose` reports for a bug report: the versions of llmops, Node, the
 * platform, onnxruntime-node, torch (from the configured Python) and the ledger schema.
 *
 * Nothing here fails: a part that cannot be found or read is reported as "not found" (or the
 * reason), because the report is most wanted on a machine where something is broken.
 */
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

export interface VersionInfo {
  llmops: string;
  node: string;
  platform: string;
  arch: string;
  onnxruntimeNode: string;
  /** `python -c 'import torch; print(torch.__version__)'` with the project's `python`. */
  torch: string;
  python: string;
  ledger: {
    /** The schema version this llmops writes. */
    latestSchemaVersion: number;
    /** The project ledger's file, or null outside a project. */
    path: string | null;
    /** Its schema version; null when no ledger exists yet; a string when it cannot be read. */
    schemaVersion: number | string | null;
  };
}

export interface VersionInputs {
  llmopsVersion: string;
  /** Python interpreter from llmops.yaml (`python`), python3 when there is no project. */
  python: string;
  /** The project's ledger file, or null outside a project. */
  ledgerPath: string | null;
}

export async function versionInfo(inputs: VersionInputs): Promise<VersionInfo> {
  const [torch, ledger] = await Promise.all([torchVersion(inputs.python), ledgerVersions(inputs.ledgerPath)]);
  return {
    llmops: inputs.llmopsVersion,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
    torch,
    python: inputs.python,
    ledger,
  };
}

/** The installed version of a package, read from its package.json (not loading it: onnxruntime is a native addon). */
export function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {version?: string};
    return pkg.version ?? 'not found';
  } catch {
    return 'not found';
  }
}

async function torchVersion(python: string): Promise<string> {
  const {probe} = await import('../system/exec.js');
  const r = await probe(python, ['-c', 'import torch; print(torch.__version__)'], {timeoutMs: 30_000});
  const v = r.stdout.trim().split('\n').at(-1) ?? '';
  return r.ok && v ? v : 'not found';
}

async function ledgerVersions(file: string | null): Promise<VersionInfo['ledger']> {
  const {LATEST_SCHEMA_VERSION} = await import('../ledger/migrations.js');
  let schemaVersion: number | string | null = null;
  if (file) {
    try {
      const {fileSchemaVersion} = await import('../ledger/db.js');
      schemaVersion = fileSchemaVersion(file);
    } catch (error) {
      schemaVersion = `unreadable (${(error as Error).message.split('\n')[0]})`;
    }
  }
  return {latestSchemaVersion: LATEST_SCHEMA_VERSION, path: file ? path.resolve(file) : null, schemaVersion};
}

/** The human report: one `name: value` line each, ready to paste into an issue. */
export function renderVersionInfo(v: VersionInfo): string {
  const ledger =
    v.ledger.path === null
      ? `${v.ledger.latestSchemaVersion} (no project here)`
      : v.ledger.schemaVersion === null
        ? `${v.ledger.latestSchemaVersion} (no ledger yet at ${v.ledger.path})`
        : `${v.ledger.latestSchemaVersion} (project ledger ${v.ledger.path}: ${v.ledger.schemaVersion})`;
  return [
    `llmops: ${v.llmops}`,
    `node: ${v.node}`,
    `platform: ${v.platform}-${v.arch}`,
    `onnxruntime-node: ${v.onnxruntimeNode}`,
    `torch: ${v.torch} (${v.python})`,
    `ledger schema: ${ledger}`,
  ].join('\n');
}
