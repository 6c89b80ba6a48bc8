// What the SDK does with the verifier module (dpseg_verify, or dpseg_core once the tools are
// loaded), built to dpseg_verifying.js and imported only when needed: a data map given to
// `open({schema})` as JSON text rather than served by the collector, and a campaign document
// without its compiled form. A site that opens with its collector never loads either.

import { internals } from './dpseg.js';

const { guard, importModule, fromBase64, toBase64, core } = internals;

let loading = null;

/** The module that compiles: the full one if loaded, else the verify-only build. */
function verifier() {
  const full = core();
  if (full) return Promise.resolve(full);
  loading ??= importModule(() => import('./dpseg_verify.js'), 'verifier', 'verifier').catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

/**
 * A data map given as JSON text in the compact form the runtime reads: the stored one when it
 * was made from the same text, else the verifier validates the JSON and makes it (and it is
 * stored).
 */
export async function compactSchema(store, schemaText, useStored) {
  const stored = store.getJson('schema', null);
  if (useStored && stored && stored.text === schemaText && typeof stored.compact === 'string') {
    try {
      return fromBase64(stored.compact);
    } catch {
      // Not base64: made anew below.
    }
  }
  const v = await verifier();
  const bytes = guard(() => v.compactSchema(schemaText));
  store.setJson('schema', { text: schemaText, compact: toBase64(bytes) });
  return bytes;
}

/**
 * The compiled bytes of a campaign document without them: the verifier compiles its rules
 * against the data map, checks its `config_id` and lints it under the site's caps.
 */
export async function compile(schemaText, json, epsilonReportMax, epsilonWindowMax) {
  const v = await verifier();
  return guard(() => v.verifyCampaign(schemaText, json, epsilonReportMax, epsilonWindowMax));
}
