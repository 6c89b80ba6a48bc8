// The on-device engine: the runtime with the visitor's profile and the checked campaigns,
// persistence (and keeping in step with the site's other tabs), memberships for the page, and
// the visitor's own view (export, status, forget). Consent, the schedule and the outbox are its
// other parts, each in its own module and mixed in below.

// Named imports only, so that the bundle leaves out what the SDK does not use of the glue.
import { Runtime } from '../dpseg_rt.js';
import { consentMethods } from './consent.js';
import { DpsegError, guard, num, optNum } from './errors.js';
import { fullModule, loadTools, timed } from './loader.js';
import { outboxMethods } from './outbox.js';
import { scheduleMethods } from './schedule.js';
import { fromBase64, toBase64 } from './store.js';

/** The events on which waiting reports are sent: the page is being hidden or left. */
const HIDE = ['pagehide', 'visibilitychange'];

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
    // The data map's range: the runtime's compact data map has none, so the SDK checks it, as
    // the core does everywhere else (same code and message).
    const a = this.map().attributes?.[name];
    const path = `$.attributes.${name}`;
    if (Number.isFinite(value) && a && !(value >= (a.min ?? value) && value <= (a.max ?? value))) {
      throw new DpsegError('out-of-range', `profile: ${path}: ${value} is outside the data map's range (min ${a.min ?? 'none'}, max ${a.max ?? 'none'})`, { path });
    }
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
    return JSON.parse(guard(() => fullModule().explainSegment(this.schemaText, JSON.stringify(doc), profile, index, this.now())));
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
}

Object.assign(Engine.prototype, consentMethods, scheduleMethods, outboxMethods);
