/**
 * `deploy --model hf:OWNER/NAME[@REVISION]`: only the files serving needs (configs, tokenizer, the
 * chosen ONNX graph and its external data) at the exact commit the revision points at, into the
 * hub cache; the commit is what gets recorded. The token (HF_TOKEN) goes in a header only.
 */
import {inputError, LlmopsError} from '../errors.js';
import {cachedSnapshot, downloadRepoFiles, hubCacheDir, isOffline, listRepoFiles, parseHfModelRef, resolveRevision, writeRef, type RepoFile} from '../hub/snapshot.js';
import {DTYPES, graphFileOf} from '../model/folder.js';

const CONFIG_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'llmops_model.json'];

export interface HfModel {
  dir: string;
  /** hf:OWNER/NAME@SHA: the exact revision served. */
  source: string;
  name: string;
  sha: string;
  files: string[];
  offline: boolean;
}

/** The graph for `dtype` (or the best for a CPU) among the repository's files, and its external data. */
export function pickFiles(name: string, listing: RepoFile[], dtype: string | undefined): RepoFile[] {
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const graphOf = (d: string) => {
    const file = graphFileOf(d);
    return file ? (byPath.get(`onnx/${file}`) ?? byPath.get(file)) : undefined;
  };
  const have = DTYPES.filter((d) => graphOf(d));
  const want = dtype && dtype !== 'auto' ? dtype : have[0];
  const graph = want ? graphOf(want) : undefined;
  if (!graph) {
    throw inputError(
      have.length === 0
        ? `hf:${name} has no ONNX graph (onnx/model.onnx or a dtype variant), so it cannot be served as it is.`
        : `hf:${name} has no ${dtype} graph (onnx/${graphFileOf(dtype!) ?? '?'}); it has ${have.join(', ')}.`,
      {fix: have.length === 0 ? `Try this: llmops export hf:${name} --out DIR, then llmops deploy --model DIR (or an onnx-community/ conversion of it).` : `Try this: --dtype ${have[0]}.`},
    );
  }
  const data = listing.filter((f) => f.path.startsWith(`${graph.path}_data`) || f.path.startsWith(`${graph.path}.data`));
  const configs = CONFIG_FILES.map((p) => byPath.get(p)).filter((f): f is RepoFile => Boolean(f));
  if (!byPath.has('config.json') || !byPath.has('tokenizer.json')) {
    throw inputError(`hf:${name} has no ${byPath.has('config.json') ? 'tokenizer.json' : 'config.json'}: it is not a model folder llmops can serve.`);
  }
  return [...configs, graph, ...data];
}

export async function fetchHfModel(ref: string, opts: {projectCache: string; dtype?: string; hubUrl?: string; progress?: (m: string) => void}): Promise<HfModel> {
  const {name, revision} = parseHfModelRef(ref);
  const cacheDir = hubCacheDir(opts.projectCache);
  const fromCache = (why: string): HfModel => {
    const hit = cachedSnapshot(cacheDir, name, revision);
    if (!hit) {
      throw new LlmopsError('ENVIRONMENT', `hf:${name}@${revision} is not in the cache (${cacheDir}) and ${why}.`, {
        fix: 'Try this: run once with network access (unset HF_HUB_OFFLINE), or set HF_HOME/HF_HUB_CACHE to a cache that has it.',
      });
    }
    opts.progress?.(`Using the cached hf:${name}@${hit.sha.slice(0, 12)} (${why}).`);
    return {dir: hit.dir, source: `hf:${name}@${hit.sha}`, name, sha: hit.sha, files: [], offline: true};
  };
  if (isOffline()) return fromCache('HF_HUB_OFFLINE is set');
  const hubOpts = {cacheDir, ...(opts.hubUrl ? {hubUrl: opts.hubUrl} : {})};
  let sha: string;
  try {
    sha = await resolveRevision(name, revision, hubOpts);
  } catch (err) {
    // The Hub unreachable (not a refusal): a cached copy still serves.
    if (err instanceof LlmopsError && err.code === 'ENVIRONMENT' && cachedSnapshot(cacheDir, name, revision)) return fromCache('the Hub is unreachable');
    throw err;
  }
  const files = pickFiles(name, await listRepoFiles(name, sha, hubOpts), opts.dtype);
  const dir = await downloadRepoFiles(name, sha, files, {...hubOpts, ...(opts.progress ? {progress: opts.progress} : {})});
  writeRef(cacheDir, name, revision, sha);
  return {dir, source: `hf:${name}@${sha}`, name, sha, files: files.map((f) => f.path), offline: false};
}
