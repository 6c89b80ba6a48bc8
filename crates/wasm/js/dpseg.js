// dpseg browser SDK: on-device segmentation with locally differentially private reports.
//
// Browser modules (ARCHITECTURE "Browser modules"). The runtime (dpseg_rt) is what every page
// loads: it holds the data map, the visitor's profile and the campaigns, checks every compiled
// campaign before it runs it (docs/compiled.md) and evaluates segments. The device state (secret
// and ledgers) is kept by this SDK as compact bytes in storage and read only by the report
// module. The other modules are imported only when needed: dpseg_check (with dpseg_checking.js)
// when a campaign version is new to the device; dpseg_report (with dpseg_reporting.js) when a
// report is due, at most once per campaign and epoch; the verifier, in one of two builds:
// dpseg_verify for a data map given as JSON text or a campaign document without its compiled
// form, dpseg_core (with the tools) to explain a segment in words and for lint, plan and tools,
// which dpseg_tools.js (the `dpseg/tools` entry) loads.
//
// This file is the entry: `open` and the public exports. What only the page can do lives in
// sdk/, one concern per module, bundled into this one file by scripts/build-wasm.sh:
// errors.js (the DpsegError shape), loader.js (modules and fetches), store.js (storage),
// engine.js (the Engine), consent.js, schedule.js and outbox.js (the Engine's other parts).
// Public API and types: dpseg.d.ts. Guide: README.md.
//
// Promises kept by the SDK, each tested in crates/wasm/tests/:
// - no consent for a campaign's purpose, GPC on, or an exhausted ledger: no request at all;
// - at most one report per campaign and epoch, made at a random time in the epoch whether or not
//   the visitor matches anything; reports wait in an outbox that survives reloads and is retried
//   with backoff; the nonce makes retries idempotent;
// - every request body is recorded for the visitor (`sent()`), and nothing but reports is sent;
// - storage trouble never throws into the page: the engine keeps going in memory and says so in
//   `status()`.

import { Runtime } from './dpseg_rt.js';
import { Engine } from './sdk/engine.js';
import { DpsegError, guard, num, optNum, optStr, text } from './sdk/errors.js';
import { contentId, fullModule, importModule, load, setFullModule, timed, verifying } from './sdk/loader.js';
import { fromBase64, Store, toBase64 } from './sdk/store.js';

export { DpsegError, Engine, load };

/**
 * Opens the engine. See dpseg.d.ts for the options.
 * @returns {Promise<Engine>}
 */
export async function open(options = {}) {
  await load(options.wasm, { check: options.check, report: options.report, verifier: options.verifier, tools: options.tools });
  const store = new Store(options.storage, options.storageKey ?? 'dpseg');
  let compact;
  if (options.schema === undefined && options.collector) {
    // The collector serves the data map twice: as JSON (purposes, what is kept before consent,
    // labels) and in the compact form the runtime checks and reads. A data map stored on an
    // earlier visit opens the engine at once; the collector's answer refreshes it for the next page.
    const base = String(options.collector).replace(/\/+$/, '');
    const get = options.fetch ?? ((...a) => globalThis.fetch(...a));
    const fetch = (path) =>
      timed(get, `${base}${path}`, options.timeout).then((res) => {
        if (!res.ok) throw new DpsegError('schema-unavailable', `collector answered ${res.status} for the data map`, { status: res.status });
        return res;
      });
    const fetched = Promise.all([
      fetch('/v1/schema').then((r) => r.text()),
      fetch('/v1/schema/compact').then(async (r) => toBase64(new Uint8Array(await r.arrayBuffer()))),
    ]);
    const cached = store.getJson('schema', null);
    let fresh = cached;
    if (typeof cached?.text !== 'string' || typeof cached.compact !== 'string') {
      const [text, bytes] = await fetched;
      store.setJson('schema', (fresh = { text, compact: bytes }));
    } else {
      fetched.then(([text, bytes]) => (text !== cached.text || bytes !== cached.compact) && store.setJson('schema', { text, compact: bytes }), () => {});
    }
    options = { ...options, schema: fresh.text };
    compact = fromBase64(fresh.compact);
  }
  const schemaText = text(options.schema ?? null);
  // The device state (secret and ledger) is made by the report module when the first report is
  // due, that is after the visitor consented: never on opening (docs/privacy.md, "Before a
  // choice"). Its absence from storage later tells other tabs that one forgot (see `sync`).
  const engineOptions = { ...options, schema: schemaText };
  const open = async (bytes) => new Engine(engineOptions, { store, compact: bytes, schemaId: await contentId(bytes) });
  // A data map given as JSON text is made compact by the verifier, once per text.
  const made = (useStored) => verifying().then((v) => v.compactSchema(store, schemaText, useStored));
  let engine;
  try {
    engine = await open(compact ?? (await made(true)));
  } catch (e) {
    // Stored bytes the runtime refuses (changed by hand, or by another version): validate anew.
    if (e.code !== 'schema-compact' || compact) throw e;
    engine = await open(await made(false));
  }
  // The native bridge (dpseg_bridge.js) loads only in a page that uses it: an app queued
  // commands before the SDK loaded, or the site accepts messages from native code.
  if (Array.isArray(globalThis.dpsegQueue) || options.bridgeOrigins?.length) {
    (await import('./dpseg_bridge.js')).bridge(engine, options.bridgeOrigins);
  }
  return engine;
}

/** The engine's version (the crates' version, written in by scripts/build-wasm.sh). */
export async function version() {
  return DPSEG_VERSION; // eslint-disable-line no-undef
}

/**
 * What dpseg_tools.js (the tools' entry, `dpseg/tools`) shares with this module, so that the
 * tools' code stays off the pages that do not use it. Not part of the public API.
 */
export const internals = { Runtime, guard, text, num, optNum, optStr, importModule, fromBase64, toBase64, contentId, core: fullModule, setCore: setFullModule };
