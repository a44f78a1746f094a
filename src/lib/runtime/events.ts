/**
 * The event protocol (docs/protocol.md): one JSON object per line in $LLMOPS_EVENTS. A line that
 * is not a valid event never stops a run: it becomes a "protocol_error" event that says why.
 */
export type ParsedEvent =
  | {type: 'metric'; step: number; values: Record<string, number>; ts?: number; dropped: string[]}
  | {type: 'status'; status: string; reason?: string; total_steps?: number; env?: Record<string, unknown>; ts?: number; raw: Record<string, unknown>}
  | {type: 'checkpoint'; step?: number; path: string; ts?: number}
  | {type: 'artifact'; kind: string; path: string; ts?: number; raw: Record<string, unknown>}
  | {type: 'heartbeat'; ts?: number}
  | {type: 'protocol_error'; error: string; line: string};

const KNOWN = new Set(['metric', 'status', 'checkpoint', 'artifact', 'heartbeat']);

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    // Python's json.dumps writes NaN and Infinity, which JSON does not allow: read them as null.
    if (/\b(NaN|Infinity)\b/.test(line)) {
      return JSON.parse(line.replaceAll(/-?\bInfinity\b|\bNaN\b/g, 'null'));
    }
    throw error;
  }
}

export function parseEventLine(line: string): ParsedEvent | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  const bad = (error: string): ParsedEvent => ({type: 'protocol_error', error, line: text.slice(0, 500)});
  let obj: unknown;
  try {
    obj = parseJson(text);
  } catch (error) {
    return bad(`not JSON: ${(error as Error).message}`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return bad('not a JSON object');
  const o = obj as Record<string, unknown>;
  if (typeof o.type !== 'string') return bad('missing "type"');
  if (!KNOWN.has(o.type)) return bad(`unknown type "${o.type}" (expected metric, status, checkpoint, artifact or heartbeat)`);
  const ts = typeof o.ts === 'number' && Number.isFinite(o.ts) ? o.ts : undefined;
  switch (o.type) {
    case 'metric': {
      const step = Number(o.step);
      if (!Number.isInteger(step) || step < 0) return bad('metric needs an integer "step" >= 0');
      if (!o.values || typeof o.values !== 'object' || Array.isArray(o.values)) return bad('metric needs an object "values"');
      const values: Record<string, number> = {};
      const dropped: string[] = [];
      for (const [k, v] of Object.entries(o.values as Record<string, unknown>)) {
        if (typeof v === 'number' && Number.isFinite(v)) values[k] = v;
        else if (typeof v === 'boolean') values[k] = v ? 1 : 0;
        else dropped.push(k);
      }
      return {type: 'metric', step, values, ts, dropped};
    }
    case 'status': {
      if (typeof o.status !== 'string') return bad('status needs a string "status"');
      return {
        type: 'status',
        status: o.status,
        reason: typeof o.reason === 'string' ? o.reason : undefined,
        total_steps: typeof o.total_steps === 'number' ? o.total_steps : undefined,
        env: o.env && typeof o.env === 'object' ? (o.env as Record<string, unknown>) : undefined,
        ts,
        raw: o,
      };
    }
    case 'checkpoint':
      if (typeof o.path !== 'string') return bad('checkpoint needs a string "path"');
      return {type: 'checkpoint', step: typeof o.step === 'number' ? o.step : undefined, path: o.path, ts};
    case 'artifact':
      if (typeof o.path !== 'string') return bad('artifact needs a string "path"');
      return {type: 'artifact', kind: typeof o.kind === 'string' ? o.kind : 'other', path: o.path, ts, raw: o};
    default:
      return {type: 'heartbeat', ts};
  }
}

export const FINAL_RUN_STATUSES = new Set(['succeeded', 'failed', 'stopped']);
