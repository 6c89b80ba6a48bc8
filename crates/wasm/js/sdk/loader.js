// Loading: the runtime once, the other modules on demand (each only when its work comes up),
// and fetches that never hold the page.

import initRuntime from '../dpseg_rt.js';
import { DpsegError, guard } from './errors.js';
import { fromBase64 } from './store.js';
import { randomUnit } from './random.js';

let loading = null;
let reportLoading = null;
/** Where the modules imported on demand get their wasm (see `load`). */
const sources = { check: undefined, verifier: undefined, tools: undefined, report: undefined };

/** The full module's exports (verifier and tools), once dpseg_tools.js loaded it. */
let core = null;
export const fullModule = () => core;
export const setFullModule = (m) => (core = m);

/**
 * Loads the runtime module once. `source` is what wasm-bindgen's init accepts (a URL, a
 * Response, bytes or a compiled module); by default `dpseg_rt_bg.wasm` next to this module is
 * fetched. `more.check`, `more.report`, `more.verifier` and `more.tools` are the same for the modules
 * imported later and only when needed (by default `dpseg_check_bg.wasm`, `dpseg_report_bg.wasm`,
 * `dpseg_verify_bg.wasm` and `dpseg_core_bg.wasm` next to this module).
 */
export function load(source, more = {}) {
  for (const k of ['check', 'report', 'verifier', 'tools']) if (more[k] !== undefined) sources[k] = more[k];
  if (!loading) {
    loading = initRuntime(initArg(source)).then(
      () => undefined,
      (e) => {
        loading = null;
        throw loadFailed('runtime', e);
      },
    );
  }
  return loading;
}

/** The SDK's use of the verifier module (dpseg_verifying.js), imported only when needed. */
export const verifying = () => import('./dpseg_verifying.js');

/** The full module, loaded by dpseg_tools.js: what explains a segment in words. */
export const loadTools = async () => (await import('./dpseg_tools.js')).loadTools();

/**
 * `get(url)` (a fetch) without cookies or referrer, abandoned after `ms` (default 3 s): a slow
 * or unreachable collector never holds the page. Rejects with a `network` DpsegError.
 */
export function timed(get, url, ms = 3000) {
  const abort = new AbortController();
  const fail = (why) => new DpsegError('network', `could not fetch ${url}: ${why}`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      abort.abort();
      reject(fail(`no answer in ${ms} ms`));
    }, ms);
    get(url, { credentials: 'omit', referrerPolicy: 'no-referrer', signal: abort.signal })
      .then(resolve, (e) => reject(fail(e?.message)))
      .finally(() => clearTimeout(timer));
  });
}

/** The `wasm-load` error for module `what`. */
const loadFailed = (what, e) => new DpsegError('wasm-load', `could not load the dpseg ${what} module: ${e?.message}`);

/** `{module_or_path: source}` for a module's init, or nothing for its default file. */
const initArg = (source) => (source === undefined ? undefined : { module_or_path: source });

/** Imports a module (`imp`) and initialises it with `sources[source]`; `what` names it in errors. */
export function importModule(imp, source, what) {
  return imp()
    .then(async (m) => {
      await m.default(initArg(sources[source]));
      return m;
    })
    .catch((e) => {
      throw loadFailed(what, e);
    });
}

/**
 * The reporting code: the report module and the JS that makes and sends reports
 * (dpseg_reporting.js), `{report, send, budget, hurry}`.
 */
export function loadReporter() {
  reportLoading ??= Promise.all([importModule(() => import('./dpseg_report.js'), 'report', 'report'), import('./dpseg_reporting.js')])
    .then(([m, js]) => js.install({ m, guard, fromBase64, randomUnit, timed }))
    .catch((e) => {
      reportLoading = null;
      throw e instanceof DpsegError ? e : loadFailed('report', e);
    });
  return reportLoading;
}

/**
 * The content id of compact bytes (docs/compiled.md): the first 16 bytes of their SHA-256, in
 * hex. WebCrypto where the page has it (a secure context); the report module's otherwise.
 */
export async function contentId(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return (await importModule(() => import('./dpseg_report.js'), 'report', 'report')).contentId(bytes);
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}
