// dpseg browser SDK: on-device segmentation with locally differentially private reports.
//
// Browser modules (ARCHITECTURE "Browser modules"). The runtime (dpseg_rt) is what every page
// loads: the data map, the profile and the campaigns live inside it; it checks every compiled
// campaign before it runs it (docs/compiled.md) and evaluates segments. This file hashes the
// compiled bytes (WebCrypto) against their config_id. The others are imported only when needed:
// dpseg_report when a report is due (at most once per campaign and epoch) reads the device state
// (secret and ledgers, which this file stores as compact bytes) and makes the private report
// from the runtime's answers; the verifier is the whole engine, in one of two builds:
// dpseg_verify for a data map given as JSON text or a campaign document without its compiled
// form, dpseg_core (with the tools) to explain a segment in words and for lint, plan and tools,
// which dpseg_tools.js (the `dpseg/tools` entry) loads. This file adds what only the page can
// do: storage, consent, scheduling and transport. Public API and types: dpseg.d.ts. Guide:
// README.md.
//
// Promises kept here, each tested in crates/wasm/tests/:
// - no consent for a campaign's purpose, GPC on, or an exhausted ledger: no request at all;
// - at most one report per campaign and epoch, made at a random time in the epoch whether or not
//   the visitor matches anything; reports wait in an outbox that survives reloads and is retried
//   with backoff; the nonce makes retries idempotent;
// - every request body is recorded for the visitor (`sent()`), and nothing but reports is sent;
// - storage trouble never throws into the page: the engine keeps going in memory and says so in
//   `status()`.

// Named imports only, so that the bundle leaves out what the SDK does not use of the glue.
import initRuntime, { Runtime } from './dpseg_rt.js';

/** The full module's exports (verifier and tools), once dpseg_tools.js loaded it. */
let core = null;

/** The one error shape of the SDK: a stable `code`, a message, and `details`. */
export class DpsegError extends Error {
  constructor(code, message, details = null) {
    super(message);
    this.name = 'DpsegError';
    this.code = code;
    this.details = details;
  }
}

function wrap(e) {
  if (e instanceof DpsegError) return e;
  if (e?.name === 'DpsegError') return new DpsegError(e.code, e.message, e.details ?? null);
  return new DpsegError('internal', `dpseg engine failure: ${e?.message ?? e}`);
}

/** Runs `f`, turning anything it throws into a DpsegError. */
function guard(f) {
  try {
    return f();
  } catch (e) {
    throw wrap(e);
  }
}

/** `v` as JSON text for the engine (text passes through); throws DpsegError if it has none. */
function text(v) {
  if (typeof v === 'string') return v;
  let t;
  try {
    t = JSON.stringify(v);
  } catch (e) {
    throw new DpsegError('bad-input', `not a JSON value: ${e?.message}`);
  }
  return t === undefined ? 'null' : t;
}

/** `v` as a number for the engine: anything else is NaN, which the engine refuses by name. */
const num = (v) => (typeof v === 'number' ? v : NaN);
const optNum = (v) => (v === undefined || v === null ? undefined : num(v));
const optStr = (v) => (typeof v === 'string' ? v : undefined);

let loading = null;
let reportLoading = null;
/** Where the modules imported on demand get their wasm (see `load`). */
const sources = { check: undefined, verifier: undefined, tools: undefined, report: undefined };

/**
 * Loads the runtime module once. `source` is what wasm-bindgen's init accepts (a URL, a
 * Response, bytes or a compiled module); by default `dpseg_rt_bg.wasm` next to this module is
 * fetched. `more.check`, `more.report`, `more.verifier` and `more.tools` are the same for the modules
 * imported later and only when needed (by default `dpseg_report_bg.wasm`,
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
const verifying = () => import('./dpseg_verifying.js');

/** The full module, loaded by dpseg_tools.js: what explains a segment in words. */
const loadTools = async () => (await import('./dpseg_tools.js')).loadTools();

/**
 * `get(url)` (a fetch) without cookies or referrer, abandoned after `ms` (default 3 s): a slow
 * or unreachable collector never holds the page. Rejects with a `network` DpsegError.
 */
function timed(get, url, ms = 3000) {
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
function importModule(imp, source, what) {
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
function loadReporter() {
  reportLoading ??= Promise.all([importModule(() => import('./dpseg_report.js'), 'report', 'report'), import('./dpseg_reporting.js')])
    .then(([m, js]) => js.install({ m, guard, fromBase64, randomUnit, timed }))
    .catch((e) => {
      reportLoading = null;
      throw e instanceof DpsegError ? e : loadFailed('report', e);
    });
  return reportLoading;
}

/** The engine's version (the crates' version, written in by scripts/build-wasm.sh). */
export async function version() {
  return DPSEG_VERSION; // eslint-disable-line no-undef
}

/** Bytes as base64 text (for storage), and back. */
function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
function fromBase64(t) {
  return Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
}

const DAY_MS = 86_400_000;
const TIMER_MAX_MS = 60_000;

/** Storage that survives reloads when it can, and says when it cannot. */
class Store {
  constructor(backend, prefix) {
    this.prefix = prefix;
    this.memory = new Map();
    /** Per name, the text this engine last read or wrote: what `changed` compares with. */
    this.seen = new Map();
    this.backend = null;
    /** The real storage, kept after a failure so that `wipe` can still empty it. */
    this.origin = null;
    this.problem = null;
    if (backend === 'memory') {
      this.problem = 'in memory by configuration';
      return;
    }
    try {
      const s = backend ?? globalThis.localStorage;
      if (!s) throw new Error('no localStorage in this environment');
      const probe = `${prefix}:probe`;
      s.setItem(probe, '1');
      s.removeItem(probe);
      this.backend = s;
      this.origin = s;
    } catch (e) {
      this.problem = `storage unavailable: ${e?.message ?? e}`;
    }
  }

  get(name) {
    const key = `${this.prefix}:${name}`;
    if (this.backend) {
      try {
        return this.backend.getItem(key);
      } catch (e) {
        this.fail(e);
      }
    }
    return this.memory.has(key) ? this.memory.get(key) : null;
  }

  set(name, value) {
    const key = `${this.prefix}:${name}`;
    this.seen.set(name, value);
    this.memory.set(key, value);
    if (!this.backend) return;
    try {
      this.backend.setItem(key, value);
    } catch (e) {
      this.fail(e);
    }
  }

  remove(name) {
    const key = `${this.prefix}:${name}`;
    this.memory.delete(key);
    if (!this.backend) return;
    try {
      this.backend.removeItem(key);
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Removes every key of this engine's prefix from memory and from the real storage, even after
   * a failure moved this session to memory (a full storage still deletes). Returns the keys that
   * could not be removed.
   */
  wipe() {
    this.memory.clear();
    this.seen.clear();
    const left = [];
    // The device state first: other tabs take its absence as the signal to forget too.
    for (const k of [`${this.prefix}:device`, ...this.keys(this.origin)]) {
      try {
        this.origin?.removeItem(k);
      } catch {
        left.push(k);
      }
    }
    return left;
  }

  /** The keys of this engine's prefix in storage `s` (none when it cannot be listed). */
  keys(s) {
    const out = [];
    try {
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i);
        if (k?.startsWith(`${this.prefix}:`)) out.push(k);
      }
    } catch {
      // Unlistable storage.
    }
    return out;
  }

  /** Storage broke (full, revoked): keep everything in memory from now on. */
  fail(e) {
    // Copy what storage holds so nothing already kept is lost to this session.
    for (const k of this.keys(this.backend)) {
      try {
        if (!this.memory.has(k)) this.memory.set(k, this.backend.getItem(k));
      } catch {
        // Unreadable storage: memory holds what this session wrote.
      }
    }
    this.backend = null;
    this.problem = `storage failed, now in memory: ${e?.message ?? e}`;
  }

  /** The stored text of `name` when another tab changed it since this engine last saw it. */
  changed(name) {
    const t = this.get(name);
    if (t === this.seen.get(name)) return undefined;
    this.seen.set(name, t);
    return t;
  }

  getJson(name, fallback) {
    const text = this.get(name);
    this.seen.set(name, text);
    if (text == null) return fallback;
    try {
      return JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  setJson(name, value) {
    this.set(name, JSON.stringify(value));
  }
}

const NAMES = ['profile', 'device', 'consent', 'outbox', 'sent', 'schedule', 'campaigns', 'schema'];

function randomUnit() {
  const b = new Uint32Array(1);
  globalThis.crypto.getRandomValues(b);
  return b[0] / 2 ** 32;
}

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

/** The events on which waiting reports are sent: the page is being hidden or left. */
const HIDE = ['pagehide', 'visibilitychange'];

/**
 * The content id of compact bytes (docs/compiled.md): the first 16 bytes of their SHA-256, in
 * hex. WebCrypto where the page has it (a secure context); the report module's otherwise.
 */
async function contentId(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return (await importModule(() => import('./dpseg_report.js'), 'report', 'report')).contentId(bytes);
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The on-device engine. Create it with `open()`. */
export class Engine {
  constructor(options, prepared) {
    if (!prepared) throw new DpsegError('use-open', 'create the engine with open()');
    const o = { ...options };
    this.collector = o.collector ? String(o.collector).replace(/\/+$/, '') : null;
    this.now = o.now ?? (() => Date.now());
    this.fetch = o.fetch ?? ((...a) => globalThis.fetch(...a));
    this.honourGpc = o.honourGpc !== false;
    /** Purposes whose campaigns' memberships the page may use (`memberships`, `inSegment`). */
    this.personalize = o.personalize ?? ['personalization'];
    /** The purpose that reports are: every report also needs the visitor's yes to it. */
    this.measurement = o.measurement ?? 'measurement';
    this.autoSchedule = o.autoSchedule !== false && this.collector !== null;
    // Without persistent storage every page is a new device (a new secret, an empty ledger):
    // the lifetime bound would not hold, so nothing spends ε unless the site opts in.
    this.reportWithoutStorage = o.reportWithoutStorage === true;
    this.debug = o.debug === true;
    /** Per event type, the site's listeners (`on`). */
    this.listeners = {};
    this.timeout = o.timeout;
    this.store = prepared.store;
    this.lastError = null;
    this.timer = null;
    this.flushing = null;
    this.closed = false;
    /** Bumped by `forget`: work that started before (a POST in flight) writes nothing after. */
    this.generation = 0;
    /** The data map's JSON text (validated): the verifier reads it. */
    this.schemaText = o.schema;
    this.epsilonReportMax = num(o.epsilonReportMax ?? 2.0);
    this.epsilonWindowMax = num(o.epsilonWindowMax ?? 8.0);
    // The report module's default (32) when the site sets none.
    this.epsilonLifetimeMax = optNum(o.epsilonLifetimeMax);
    /** The data map's compact form and its `schema_id`: what campaigns are checked against. */
    this.schemaCompact = prepared.compact;
    this.schemaId = prepared.schemaId;
    this.rt = guard(() => new Runtime(prepared.compact, prepared.schemaId));
    this.handles = new Map(); // campaign id -> {handle, info, doc, runnable}
    this.restore();
    this.onStorage = (e) => {
      if (e.key === null || e.key.startsWith(`${this.store.prefix}:`)) this.sync();
    };
    globalThis.addEventListener?.('storage', this.onStorage);
    // Reports waiting to be sent go out as the page is left (keepalive requests outlive it).
    this.onHide = () => {
      if (this.outbox.length && globalThis.document?.visibilityState !== 'visible') this.flush();
    };
    for (const t of HIDE) globalThis.addEventListener?.(t, this.onHide);
    this.arm();
  }

  // ---- events --------------------------------------------------------------------------------

  /**
   * Calls `fn(detail)` on each event of `type`: `change` (the profile or the campaigns changed:
   * memberships may differ), `report` (a request of reports was answered: `{campaign, status}`)
   * and `error` (`{code, message}`: what `status().lastError` records). Returns a function that
   * removes the listener. A listener that throws is ignored.
   */
  on(type, fn) {
    (this.listeners[type] ??= new Set()).add(fn);
    return () => this.listeners[type].delete(fn);
  }

  emit(type, detail) {
    for (const fn of this.listeners[type] ?? []) {
      try {
        fn(detail);
      } catch {
        // The site's listener failed: not the engine's business.
      }
    }
  }

  /** Records a problem or a decision: `lastError`, the `error` event, and the debug log. */
  note(code, message) {
    this.lastError = `${code}: ${message}`;
    this.emit('error', { code, message });
    if (this.debug) globalThis.console?.debug(`dpseg: ${code}: ${message}`);
  }

  // ---- persistence -------------------------------------------------------------------------

  restore() {
    const now = this.now();
    const profile = this.store.get('profile');
    if (profile) {
      try {
        guard(() => this.rt.importProfile(JSON.parse(profile), now));
        this.storedProfile = profile;
      } catch (e) {
        this.lastError = `stored profile dropped: ${e.message}`;
      }
    }
    // Read by the report module when it makes a report (an unreadable one is replaced then).
    this.deviceText = this.store.get('device') ?? undefined;
    this.consentState = this.store.getJson('consent', {});
    this.outbox = this.store.getJson('outbox', []);
    this.sentLog = this.store.getJson('sent', []);
    this.scheduleState = this.store.getJson('schedule', {});
    // Campaigns of an earlier visit run as they were checked, while the data map is the one
    // they were checked against; any other (the data map changed, or an older build stored it)
    // is fetched and checked anew by loadCampaign.
    for (const entry of this.store.getJson('campaigns', [])) {
      if (entry.info?.schema_id !== this.schemaId) continue;
      try {
        this.run(entry);
      } catch (e) {
        this.lastError = `stored campaign dropped: ${e.message}`;
      }
    }
  }

  /**
   * Whether data with these purposes may be written to storage: the visitor allowed one of
   * them, or (`given`: a declared attribute, zero-party data given on purpose) the visitor has
   * not chosen for one of them yet and the data map keeps declared data for it before consent
   * (`[purposes.NAME] before_consent = "declared"`). Observed attributes and events wait for
   * consent. The rest of the profile lives in memory only.
   */
  mayKeep(purposes = [], given) {
    return purposes.some(
      (p) => this.allowed(p) || (given && this.consentState[p] === undefined && this.map().purposes?.[p]?.before_consent === 'declared'),
    );
  }

  /** The stored part of the profile (see `mayKeep`), or `null` when nothing may be kept. */
  keepable() {
    const { attributes: a, events: e } = this.map();
    const { attributes, events } = this.rt.profile();
    for (const name in attributes) if (!this.mayKeep(a[name].purposes, a[name].source !== 'observed')) delete attributes[name];
    const kept = events.filter((ev) => this.mayKeep(e[ev.name].purposes));
    return Object.keys(attributes).length || kept.length ? { attributes, events: kept } : null;
  }

  /** Writes what may be kept of the profile and removes the rest from storage. */
  saveProfile() {
    const keep = this.keepable();
    this.storedProfile = keep && JSON.stringify(keep);
    if (keep) this.store.set('profile', this.storedProfile);
    else this.store.remove('profile');
    this.emit('change', { reason: 'profile' });
  }

  /** The data map's JSON document (validated by the runtime). */
  map() {
    return (this.mapCache ??= JSON.parse(this.schemaText));
  }

  /** Keeps the device state the report module made or updated, in memory and in storage. */
  saveDevice(bytes) {
    this.deviceText = toBase64(bytes);
    this.store.set('device', this.deviceText);
  }

  /**
   * Other tabs of the site share this storage, and every change is written to it as it
   * happens, so before deciding anything the engine takes what storage holds: the ledger (so
   * two tabs do not both report a campaign in one epoch), consent, the schedule, the outbox,
   * the profile. Storage emptied by another tab's `forget()` forgets here too.
   */
  sync() {
    if (!this.store.backend) return;
    const device = this.store.get('device');
    if (device === null) {
      if (this.deviceText !== undefined) this.forgetHere();
      return;
    }
    // Another tab's report changed the ledger: the next report and budget() read this one.
    this.deviceText = device;
    const profile = this.store.get('profile');
    if (profile !== null && profile !== this.storedProfile) {
      try {
        this.rt.importProfile(JSON.parse(profile), this.now());
        this.storedProfile = profile;
      } catch {
        // As above.
      }
    }
    // Parse only what another tab changed: the sent log alone may hold 500 entries.
    const take = (name, fallback) => {
      const t = this.store.changed(name);
      if (t === undefined) return fallback;
      try {
        return t === null ? fallback : JSON.parse(t);
      } catch {
        return fallback;
      }
    };
    this.consentState = take('consent', this.consentState);
    this.scheduleState = take('schedule', this.scheduleState);
    this.outbox = take('outbox', this.outbox);
    this.sentLog = take('sent', this.sentLog);
  }

  // ---- the profile -------------------------------------------------------------------------

  /** Sets a zero-party attribute; `null` or `undefined` unsets it. Throws DpsegError on bad input. */
  set(name, value) {
    this.sync();
    guard(() => this.rt.set(String(name), value ?? null));
    this.saveProfile();
  }

  /** Unsets an attribute. */
  unset(name) {
    this.set(name, null);
  }

  /** Records an on-device event now (or at `at`, a Date or RFC 3339 text). */
  track(name, props = {}, at = undefined) {
    const when = at === undefined ? new Date(this.now()) : new Date(at);
    if (Number.isNaN(when.getTime())) throw new DpsegError('bad-time', `event time ${at} is not a time`);
    const event = { name: String(name), at: when.toISOString().replace(/\.\d{3}Z$/, 'Z'), props };
    this.sync();
    guard(() => this.rt.track(event, this.now()));
    this.saveProfile();
  }

  /** Everything stored about the visitor: `{attributes, events}`. */
  profile() {
    return this.rt.profile();
  }

  /**
   * The data map, as the engine validated it (its JSON form: `attributes`, `events`,
   * `purposes`); a field left out takes its default (docs/data-map.md). A copy: changing it
   * changes nothing.
   */
  dataMap() {
    return JSON.parse(this.schemaText);
  }

  // ---- campaigns ---------------------------------------------------------------------------

  /** Runs a checked campaign `{doc, runnable (base64), info}` in the runtime. */
  run(entry) {
    const handle = guard(() => this.rt.loadRunnable(fromBase64(entry.runnable)));
    this.handles.set(entry.info.id, { ...entry, handle });
    this.emit('change', { reason: 'campaign', campaign: entry.info.id });
    return entry.info;
  }

  /**
   * Takes a collector document: its `compiled` bytes must hash to its `config_id`, the check
   * module checks them against the data map and the site's caps (docs/compiled.md), then the
   * runtime runs them. A document without them (made by hand, or
   * by the tools) is compiled by the verifier module from its rules first.
   */
  async install(doc) {
    return (await import('./dpseg_checking.js')).install(this, doc);
  }

  /**
   * Fetches campaign `id` from the collector, verifies its config_id, lints it against the data
   * map and the site's caps, and keeps it. Throws DpsegError when refused.
   */
  async loadCampaign(id) {
    if (!this.collector) throw new DpsegError('no-collector', 'the engine was opened without a collector URL');
    const known = this.handles.get(String(id));
    let res;
    try {
      res = await timed(this.fetch, `${this.collector}/v1/campaigns/${encodeURIComponent(id)}`, this.timeout);
    } catch (e) {
      // Offline or slow: a campaign verified on an earlier visit keeps running.
      if (known) {
        this.note(e.code, e.message);
        return known.info;
      }
      throw e;
    }
    if (res.status === 404 || res.status === 410) {
      // The collector no longer serves it: it ended, so it stops here too.
      this.dropCampaign(String(id));
      throw new DpsegError('campaign-ended', `campaign '${id}' is not served any more (${res.status})`, { status: res.status });
    }
    if (!res.ok) {
      if (known) return known.info;
      throw new DpsegError('campaign-unavailable', `collector answered ${res.status} for campaign '${id}'`, { status: res.status });
    }
    return this.addCampaign(await res.text());
  }

  /** Forgets a campaign the collector no longer serves: no more reports or memberships. */
  dropCampaign(id) {
    if (this.handles.delete(id)) this.saveCampaigns();
    this.emit('change', { reason: 'campaign', campaign: id });
  }

  /**
   * As `loadCampaign`, from a campaign document already at hand (object or JSON text). A
   * version this device verified before (same id and config_id) is kept as it is; any other is
   * verified first.
   */
  async addCampaign(doc) {
    let parsed;
    try {
      parsed = typeof doc === 'string' ? JSON.parse(doc) : doc;
    } catch (e) {
      throw new DpsegError('json-syntax', `campaign document is not JSON: ${e?.message}`);
    }
    const known = parsed && typeof parsed === 'object' ? this.handles.get(parsed.id) : undefined;
    if (known && known.info.config_id === parsed.config_id) return known.info;
    const info = await this.install(doc);
    this.saveCampaigns();
    this.arm();
    return info;
  }

  saveCampaigns() {
    this.store.setJson('campaigns', [...this.handles.values()].map(({ doc, runnable, info }) => ({ doc, runnable, info })));
  }

  /** The loaded campaigns: id, purpose, epoch, ε, segment and group names. */
  campaigns() {
    return [...this.handles.values()].map((c) => c.info);
  }

  /**
   * The loaded campaign `campaign`. Not loaded (yet, or any more): throws, or with `quiet` (the
   * hot read paths, which never throw into the page) answers `undefined` and reports the problem
   * on the `error` event.
   */
  entry(campaign, quiet) {
    const c = this.handles.get(campaign);
    if (c) return c;
    const e = new DpsegError('unknown-campaign', `campaign '${campaign}' is not loaded`);
    if (!quiet) throw e;
    this.note(e.code, e.message);
  }

  /**
   * Why the page may not use this campaign's memberships, or `null` when it may: the
   * campaign's purpose is one the site personalises with (`open({personalize})`), the visitor
   * allowed that purpose (or has not chosen yet and the data map keeps declared data for it
   * before consent), and, for a campaign that reads sensitive data, allowed this campaign.
   */
  refusal({ id, purpose, sensitive }) {
    if (!this.personalize.includes(purpose)) return ['not-for-personalization', `campaign '${id}' is for ${purpose}`];
    if (!this.mayKeep([purpose], true) || (sensitive.length && !this.allowed(`campaign:${id}`))) {
      return ['no-consent', `no consent for '${id}'`];
    }
  }

  /**
   * Evaluates every segment and group of a campaign for use on the page: a Uint16Array with one
   * entry per segment (1 in, 0 out) then one per group (case index + 1, or 0). The fast path;
   * throws `not-for-personalization` or `no-consent` when the page may not use the campaign
   * (see `memberships`).
   */
  evaluate(campaign) {
    const { handle, info } = this.entry(campaign);
    const refused = this.refusal(info);
    if (refused) throw new DpsegError(...refused);
    return guard(() => this.rt.evaluate(handle, this.now()));
  }

  /**
   * `{segments: {id: bool}, groups: {id: case id or null}}` of a campaign, for use on the page.
   * Only a campaign whose purpose the site personalises with (`open({personalize})`, default
   * `['personalization']`), with the visitor's consent to it (and to the campaign itself when it
   * reads sensitive data); otherwise, and for a campaign that is not loaded, empty maps, with the
   * reason on the `error` event (`not-for-personalization`, `no-consent`, `unknown-campaign`),
   * never thrown. To show the visitor their own memberships, `membershipsForVisitor`.
   */
  memberships(campaign) {
    const c = this.entry(campaign, true);
    const refused = c && this.refusal(c.info);
    if (refused) this.note(...refused);
    return c && !refused ? this.membershipsForVisitor(campaign) : { segments: {}, groups: {} };
  }

  /**
   * The visitor's memberships of any loaded campaign, whatever its purpose: for showing the
   * visitor what the engine works out about them (the preference center), never for changing
   * the page. Empty maps for a campaign that is not loaded (reported on `error`).
   */
  membershipsForVisitor(campaign) {
    const c = this.entry(campaign, true);
    if (!c) return { segments: {}, groups: {} };
    const { info } = c;
    const flat = guard(() => this.rt.evaluate(c.handle, this.now()));
    const segments = {};
    info.segments.forEach((s, i) => {
      segments[s.id] = flat[i] === 1;
    });
    const groups = {};
    info.groups.forEach((g, i) => {
      const v = flat[info.segments.length + i];
      groups[g.id] = g.cases[v] ?? null; // the number of cases: none
    });
    return { segments, groups };
  }

  /**
   * Whether the visitor is in one segment, for use on the page; `false` where `memberships`
   * would answer empty maps, and for a segment the campaign does not have (the reason on the
   * `error` event, never thrown).
   */
  inSegment(campaign, segment) {
    const c = this.entry(campaign, true);
    const index = c ? c.info.segments.findIndex((s) => s.id === segment) : -1;
    if (c && index < 0) this.note('unknown-segment', `campaign '${campaign}' has no segment '${segment}'`);
    const refused = index >= 0 && this.refusal(c.info);
    if (refused) this.note(...refused);
    return index >= 0 && !refused && guard(() => this.rt.inSegment(c.handle, index, this.now()));
  }

  /**
   * Why the visitor is (not) in a segment, in words: `{summary, holds, reasons}`. Loads the
   * full module, which holds the explanation code, on first use.
   */
  async explain(campaign, segment) {
    const { info, doc } = this.entry(campaign);
    const index = info.segments.findIndex((s) => s.id === segment);
    if (index < 0) throw new DpsegError('unknown-segment', `campaign '${campaign}' has no segment '${segment}'`);
    await loadTools();
    const profile = JSON.stringify(this.rt.profile());
    return JSON.parse(guard(() => core.explainSegment(this.schemaText, JSON.stringify(doc), profile, index, this.now())));
  }

  // ---- consent -----------------------------------------------------------------------------

  /** True when the browser sends Global Privacy Control. */
  gpc() {
    return globalThis.navigator?.globalPrivacyControl === true;
  }

  /** Whether reports for `purpose` may be sent: the visitor's switch, and GPC for measurement. */
  allowed(purpose) {
    if (this.consentState[purpose] !== true) return false;
    if (this.honourGpc && this.gpc()) return false;
    return true;
  }

  /**
   * The visitor's choices, `{key: bool}` (GPC not applied; see `allowed`): a key is a purpose,
   * or `campaign:ID` for a campaign that reads sensitive data (`CampaignInfo.sensitive`).
   */
  consent() {
    return { ...this.consentState };
  }

  /**
   * Whether a campaign (`{id, purpose, sensitive}`, as its info or an outbox entry has them)
   * may report. A report is measurement: it needs the visitor's yes to measurement
   * (`open({measurement})`), to the campaign's own purpose (the same for a measurement
   * campaign) and, when it reads sensitive data, to `campaign:ID`.
   */
  mayReport({ id, purpose, sensitive }) {
    return this.allowed(this.measurement) && this.allowed(purpose) && (!sensitive?.length || this.allowed(`campaign:${id}`));
  }

  /** Records the visitor's choice for a purpose. Withdrawing drops queued reports for it. */
  setConsent(purpose, granted) {
    this.sync();
    this.consentState[String(purpose)] = granted === true;
    this.store.setJson('consent', this.consentState);
    // A choice: what the visitor's choices allow is kept now, and the rest removed from storage.
    this.saveProfile();
    if (granted !== true) this.dropDisallowed();
    this.arm();
  }

  dropDisallowed() {
    const keep = this.outbox.filter((r) => this.mayReport({ ...r, id: r.campaign }));
    if (keep.length !== this.outbox.length) {
      this.outbox = keep;
      this.store.setJson('outbox', this.outbox);
    }
  }

  // ---- reporting ---------------------------------------------------------------------------

  /** ε spent over the rolling window, and the ledger entries (read by the report module). */
  async budget() {
    return (await loadReporter()).budget(this);
  }

  /** When this epoch's report of `info`'s campaign is due; picks a random time once per epoch. */
  due(info, now) {
    const epochMs = info.epoch_secs * 1000;
    const epoch = Math.floor(now / epochMs);
    let s = this.scheduleState[info.id];
    if (!s || s.epoch !== epoch) {
      s = { epoch, at: epoch * epochMs + Math.floor(randomUnit() * epochMs), done: false };
      this.scheduleState[info.id] = s;
      this.store.setJson('schedule', this.scheduleState);
    }
    return s;
  }

  /**
   * Makes every report that is due (consent given, time reached, ledger allows) and sends the
   * outbox. Called by the engine's timer; call it yourself with `autoSchedule: false`.
   * Never throws; problems go to `status().lastError`.
   */
  async tick() {
    if (this.closed) return;
    this.sync();
    const now = this.now();
    const isDue = (c) => {
      if (!this.mayReport(c.info)) return false;
      if (!this.store.backend && !this.reportWithoutStorage) {
        this.note('no-storage', 'no persistent storage: no reports (see reportWithoutStorage)');
        return false;
      }
      const s = this.due(c.info, now);
      return !s.done && now >= s.at;
    };
    if ([...this.handles.values()].some(isDue)) {
      try {
        await (await loadReporter()).report(this, isDue, now);
      } catch (e) {
        // The report module did not load (or refused the caps): the reports stay due, for the next tick.
        this.note(e.code, e.message);
      }
    }
    await this.flush();
    this.arm();
  }

  /**
   * Makes this epoch's reports now rather than at their random time, then sends them; consent,
   * GPC and the ledger apply as always. For a "send now" button or a page that knows it is
   * about to close. Never throws.
   */
  async sendNow() {
    try {
      (await loadReporter()).hurry(this);
    } catch (e) {
      this.note(e.code, e.message);
    }
    await this.tick();
  }

  /** Sends the reports waiting in the outbox whose retry time has come. Never throws. */
  flush() {
    if (!this.flushing) {
      this.flushing = this.send().finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  async send() {
    // The reporting code loads only when something waits to be sent.
    if (!this.collector || this.closed || this.outbox.length === 0) return;
    await (await loadReporter()).send(this);
  }

  /** Every request this engine sent: `[{at, url, body, status}]`, the body byte for byte. */
  sent() {
    return this.sentLog.map((e) => ({ ...e }));
  }

  /** Reports made but not yet acknowledged by the collector. */
  pending() {
    return this.outbox.map((r) => ({ campaign: r.campaign, epoch: r.epoch, report: r.report, attempts: r.attempts }));
  }

  /**
   * Everything this device keeps and sent for the visitor, as one JSON value (the preference
   * center's download): the profile, consent, the campaigns and the visitor's memberships, every
   * request sent and every report waiting, and the privacy ledger. The device secret is never
   * part of it. Async: the ledger is the report module's.
   */
  async export() {
    const memberships = {};
    for (const c of this.campaigns()) memberships[c.id] = this.membershipsForVisitor(c.id);
    const { ledger, charged } = await this.budget();
    return { format: 'dpseg-export-1', exported_at: new Date(this.now()).toISOString(), profile: this.profile(), consent: this.consent(), campaigns: this.campaigns(), memberships, sent: this.sent(), pending: this.pending(), ledger, charged };
  }

  /** Where the engine keeps its state, consent as applied, and the last problem seen. */
  status() {
    return {
      storage: this.store.backend ? 'persistent' : 'memory',
      storageProblem: this.store.problem,
      gpc: this.gpc(),
      honourGpc: this.honourGpc,
      consent: this.consent(),
      pending: this.outbox.length,
      campaigns: this.handles.size,
      lastError: this.lastError,
    };
  }

  /** Deletes everything: profile, device secret and ledger, consent, outbox, sent log. */
  forget() {
    this.forgetHere();
    const left = this.store.wipe();
    if (left.length) this.lastError = `forget: storage kept ${left}`;
  }

  /** Forgets the in-memory state (storage is another tab's or `forget`'s business). */
  forgetHere() {
    this.generation++;
    // An empty profile (loaded campaigns stay: they hold nothing about the visitor).
    this.rt.importProfile({ attributes: {}, events: [] }, 0);
    this.consentState = {};
    this.outbox = [];
    this.sentLog = [];
    this.scheduleState = {};
    this.deviceText = undefined;
    this.storedProfile = undefined;
    this.disarm();
  }

  /** Stops the timer; the engine sends nothing more. */
  close() {
    this.closed = true;
    globalThis.removeEventListener?.('storage', this.onStorage);
    for (const t of HIDE) globalThis.removeEventListener?.(t, this.onHide);
    this.disarm();
  }

  disarm() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sets the timer to the next due report or retry (at most a minute away). */
  arm() {
    this.disarm();
    if (!this.autoSchedule || this.closed) return;
    const now = this.now();
    let next = now + TIMER_MAX_MS;
    for (const { info } of this.handles.values()) {
      if (!this.mayReport(info)) continue;
      const s = this.due(info, now);
      next = Math.min(next, s.done ? (s.epoch + 1) * info.epoch_secs * 1000 : s.at);
    }
    for (const r of this.outbox) next = Math.min(next, r.next);
    if (this.handles.size === 0 && this.outbox.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick().catch((e) => {
        this.lastError = `tick failed: ${e?.message}`;
      });
    }, Math.max(0, Math.min(next - now, TIMER_MAX_MS, DAY_MS)));
  }
}

/**
 * What dpseg_tools.js (the tools' entry, `dpseg/tools`) shares with this module, so that the
 * tools' code stays off the pages that do not use it. Not part of the public API.
 */
export const internals = { Runtime, guard, text, num, optNum, optStr, importModule, fromBase64, toBase64, contentId, core: () => core, setCore: (m) => (core = m) };
