// What the SDK does when a campaign version is new to the device, built to dpseg_checking.js and
// imported only then, with the check module (dpseg_check): hash the served compiled bytes
// against the document's config_id, have the check module check them against the data map and
// the site's caps (docs/compiled.md, "What a device checks"), and describe the campaign for the
// page. A later page runs the stored result with the runtime alone.

import { DpsegError, internals } from './dpseg.js';

const { guard, text, importModule, fromBase64, toBase64, contentId } = internals;

let loading = null;
/** The check module, loaded once. */
function checker() {
  loading ??= importModule(() => import('./dpseg_check.js'), 'check', 'check').catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

/**
 * Checks a collector document for `engine` and runs it (`engine.run`). A document without its
 * compiled form (made by hand, or by the tools) is compiled by the verifier module first.
 */
export async function install(engine, doc) {
  const json = text(doc);
  const parsed = JSON.parse(json);
  let bytes;
  if (typeof parsed?.compiled === 'string' && parsed.compiled !== '') {
    try {
      bytes = fromBase64(parsed.compiled.replaceAll('-', '+').replaceAll('_', '/'));
    } catch {
      throw new DpsegError('campaign-syntax', `campaign '${parsed.id}': compiled is not base64url`);
    }
  } else {
    const verifying = await import('./dpseg_verifying.js');
    bytes = await verifying.compile(engine.schemaText, json, engine.epsilonReportMax, engine.epsilonWindowMax);
  }
  const config_id = await contentId(bytes);
  if (config_id !== parsed.config_id) {
    throw new DpsegError('config-id-mismatch', `campaign '${parsed.id}' claims config_id ${JSON.stringify(parsed.config_id)} but its compiled form hashes to ${config_id}`, {
      claimed: parsed.config_id,
      computed: config_id,
    });
  }
  const c = await checker();
  const schema_id = engine.schemaId;
  const [id, purpose, epoch_secs, epsilon, epsilon_lifetime, per_report, answer_bytes, segments, groups, sensitive] = guard(() =>
    c.check(engine.schemaCompact, schema_id, bytes, engine.epsilonReportMax, engine.epsilonWindowMax),
  );
  if (id !== parsed.id) throw new DpsegError('campaign-syntax', `document of campaign '${parsed.id}' holds campaign '${id}'`);
  const str = (v) => (typeof v === 'string' ? v : null);
  const written = new Map((parsed.segments ?? []).map((s) => [s?.id, s]));
  const info = {
    id,
    config_id,
    schema_id,
    purpose,
    epoch_secs,
    epsilon,
    epsilon_lifetime,
    per_report,
    answer_bytes,
    title: str(parsed.title),
    segments: segments.map((s) => ({ id: s, description: str(written.get(s)?.description), visitor: str(written.get(s)?.visitor) })),
    groups: groups.map(([g, cases]) => ({ id: g, cases })),
    sensitive: sensitive.map(([data, category]) => ({ data, category })),
  };
  return engine.run({ doc: parsed, runnable: toBase64(bytes), info });
}
