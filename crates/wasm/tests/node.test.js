// The browser package in Node: the spec suite, the engine's API and its reports to the real
// collector binary. Run by scripts/test.sh after scripts/build-wasm.sh (node --test).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPackage, specFiles, startCollector, estimates, outdoor, pkg, golden, fitsShape } from './harness.js';
import { runSpec } from './spec-runner.js';

let dpseg;
let collector;
let schema;
let spring; // the campaign document as the collector serves it
let reporting; // the report module, which the SDK imports when a report is due

before(async () => {
  dpseg = await loadPackage();
  collector = await startCollector();
  schema = await (await fetch(`${collector.url}/v1/schema`)).json();
  spring = await (await fetch(`${collector.url}/v1/campaigns/spring-2027`)).json();
  reporting = await import(join(pkg, 'dpseg_report.js'));
  await reporting.default({ module_or_path: readFileSync(join(pkg, 'dpseg_report_bg.wasm')) });
});

after(async () => {
  await collector?.stop();
});

const profile = (name) => JSON.parse(readFileSync(join(outdoor, 'profiles', `${name}.json`), 'utf8'));

/** A clock the test moves by hand. */
function clock(start = Date.now()) {
  const c = { t: start, now: () => c.t };
  return c;
}

/**
 * A fetch that records every report POST (in `calls`) and every other request (in `checks`:
 * the campaign checks made before spending ε) and hands them to the real network.
 */
function recordingFetch() {
  const calls = [];
  const checks = [];
  const f = async (url, init = {}) => {
    (init.method === 'POST' ? calls : checks).push({ url: String(url), init });
    return fetch(url, init);
  };
  return { f, calls, checks };
}

async function openWith(opts = {}) {
  // In memory, with the site's opt-in to reporting there: each test engine is a fresh device.
  return dpseg.open({ schema, storage: 'memory', reportWithoutStorage: true, autoSchedule: false, ...opts });
}

function fill(engine, name) {
  const p = profile(name);
  for (const [k, v] of Object.entries(p.attributes ?? {})) engine.set(k, v);
  for (const e of p.events ?? []) engine.track(e.name, e.props ?? {}, e.at);
}

test('the spec suite passes through the package with the same results as cargo test', () => {
  const { total, negative, failures } = runSpec(dpseg, specFiles());
  assert.deepEqual(failures, []);
  assert.ok(total >= 500 && negative >= 200, `suite shrank: ${total} cases, ${negative} negative`);
});

test('memberships agree with the CLI for every example profile', async () => {
  const { execFileSync } = await import('node:child_process');
  const bin = join(outdoor, '..', '..', 'target', 'release', 'dpseg');
  for (const name of ['alice', 'bob', 'carla', 'dieter']) {
    const now = '2026-11-24T12:00:00Z';
    const want = JSON.parse(
      execFileSync(bin, ['eval', '--schema', join(outdoor, 'schema.toml'), '--campaign', join(outdoor, 'campaigns', 'spring-2027.toml'), '--profile', join(outdoor, 'profiles', `${name}.json`), '--now', now]),
    );
    const engine = await openWith({ now: () => Date.parse(now) });
    await engine.addCampaign(spring);
    fill(engine, name);
    assert.deepEqual(engine.membershipsForVisitor('spring-2027'), want, name);
  }
});

test('without a data map, open() takes the collector\'s', async () => {
  const engine = await dpseg.open({ collector: collector.url, storage: 'memory', autoSchedule: false });
  assert.deepEqual(Object.keys(engine.dataMap().attributes).sort(), Object.keys(schema.attributes).sort());
  await engine.loadCampaign('spring-2027');
  assert.deepEqual(engine.campaigns().map((c) => c.id), ['spring-2027']);
  await assert.rejects(dpseg.open({ collector: `${collector.url}/nowhere`, storage: 'memory' }), { code: 'schema-unavailable' });
});

test('bad input throws one error shape and changes nothing', async () => {
  const engine = await openWith();
  engine.set('budget', 150);
  const before = engine.profile();
  const cases = [
    [() => engine.set('budjet', 1), 'unknown-attribute', '$.attributes.budjet'],
    [() => engine.set('budget', 'lots'), null, '$.attributes.budget'],
    [() => engine.set('budget', NaN), 'wrong-type', '$.attributes.budget'],
    [() => engine.set('budget', Infinity), 'wrong-type', '$.attributes.budget'],
    [() => engine.set('interests', ['hiking', 'base-jumping']), null, '$.attributes.interests[1]'],
    [() => engine.track('purchase', { amount: 'ten' }), null, '$.props.amount'],
    [() => engine.track('teleport', {}), null, '$.name'],
  ];
  for (const [f, code, path] of cases) {
    assert.throws(f, (e) => {
      assert.ok(e instanceof dpseg.DpsegError, `not a DpsegError: ${e}`);
      assert.equal(typeof e.code, 'string');
      if (code) assert.equal(e.code, code);
      assert.equal(e.details.path, path);
      assert.ok(e.message.length > 10);
      return true;
    });
  }
  assert.deepEqual(engine.profile(), before);
  // The hot read paths answer a documented default and report the problem instead of throwing.
  const seen = [];
  const off = engine.on('error', (e) => seen.push(e.code));
  assert.deepEqual(engine.memberships('nope'), { segments: {}, groups: {} });
  assert.equal(engine.inSegment('nope', 'hikers'), false);
  off();
  assert.equal(engine.inSegment('nope', 'hikers'), false);
  assert.deepEqual(seen, ['unknown-campaign', 'unknown-campaign']);
  await assert.rejects(dpseg.open({ schema: '{"attributes": 1}', storage: 'memory' }), { name: 'DpsegError' });
});

test('a device checks the compiled campaign it runs: its hash, its data, the caps', async () => {
  const engine = await openWith();
  await assert.rejects(engine.addCampaign({ ...spring, config_id: '00'.repeat(16) }), { code: 'config-id-mismatch' });
  // The compiled bytes changed under the old config_id: the hash catches it.
  const bytes = Buffer.from(spring.compiled, 'base64url');
  bytes[bytes.length - 1] ^= 1;
  await assert.rejects(engine.addCampaign({ ...spring, compiled: bytes.toString('base64url') }), { code: 'config-id-mismatch' });
  // Over the site's cap: the runtime refuses, with the figures.
  const strict = await openWith({ epsilonReportMax: 0.5 });
  await assert.rejects(strict.addCampaign(spring), (e) => e.code === 'over-report-cap' && e.details.max === 0.5 && e.details.epsilon > 0.5);
  // A campaign that reads health data for measurement, compiled by `dpseg compile` and served
  // with an honest hash: refused for its data, which the error names.
  const { execFileSync } = await import('node:child_process');
  const bin = join(outdoor, '..', '..', 'target', 'release', 'dpseg');
  const health = JSON.parse(execFileSync(bin, ['compile', '--schema', join(outdoor, 'schema.toml'), '--campaign', join(outdoor, 'lint', 'health-targeting.toml')]));
  await assert.rejects(engine.addCampaign(health), (e) => e.code === 'purpose-mismatch' && e.details.data === 'health_goal');
  assert.equal(engine.campaigns().length, 0);
  const info = await engine.addCampaign(spring);
  assert.equal(info.config_id, spring.config_id);
  assert.deepEqual(info.segments.map((s) => s.id), spring.segments.map((s) => s.id));
  // The rules in the document are for people; the device runs the compiled form, so a
  // document whose rule text changed runs the same campaign.
  fill(engine, 'alice');
  const before = engine.membershipsForVisitor('spring-2027');
  const sneaky = structuredClone(spring);
  sneaky.segments[0].rule = `not (${spring.segments[0].rule})`;
  sneaky.segments[0].description = 'changed';
  assert.deepEqual(await engine.addCampaign(sneaky), info);
  assert.deepEqual(engine.membershipsForVisitor('spring-2027'), before);
});

test('a document without its compiled form is compiled by the verifier, to the same campaign', async () => {
  const engine = await openWith();
  const { compiled, schema_id, ...written } = spring;
  assert.ok(compiled && schema_id);
  const info = await engine.addCampaign(written);
  assert.equal(info.config_id, spring.config_id, 'the verifier compiles to the bytes the collector serves');
  assert.equal(engine.handles.get('spring-2027').runnable, Buffer.from(compiled, 'base64url').toString('base64'));
  // Its rules changed: the verifier's config_id no longer matches the document's.
  const edited = structuredClone(written);
  edited.segments[0].rule = 'budget >= 1';
  await assert.rejects((await openWith()).addCampaign(edited), { code: 'config-id-mismatch' });
});

test('explanations name the visitor\'s data in words', async () => {
  const engine = await openWith({ now: () => Date.parse('2026-11-24T12:00:00Z') });
  await engine.addCampaign(spring);
  fill(engine, 'alice');
  const words = await engine.explain('spring-2027', 'hikers');
  assert.equal(words.holds, engine.membershipsForVisitor('spring-2027').segments.hikers);
  const text = JSON.stringify(words);
  // Sentences in the data map's words, the segment named by its `visitor` words, the rule text
  // one click away.
  assert.match(text, /Your budget per trip for gear \(EUR\) is 150; we look for at least 100/);
  assert.match(words.summary, /^You are (not )?among hikers with a budget for good gear, because:$/);
  assert.equal(words.reasons[0].rule, 'interests has "hiking" and budget >= 100');
});

/** The last millisecond of the `k`-th day after today: every report of that day is due. */
const endOfDay = (k) => (Math.floor(Date.now() / 86_400_000) + k + 1) * 86_400_000 - 1;

test('no consent, GPC or an exhausted ledger: no request at all', async () => {
  // Days from yesterday to tomorrow: the epochs the collector accepts (its clock is real).
  const c = clock(endOfDay(-1));
  const { f, calls } = recordingFetch();
  const engine = await openWith({ collector: collector.url, now: c.now, fetch: f });
  await engine.addCampaign(spring);
  fill(engine, 'alice');
  await engine.tick();
  assert.equal(calls.length, 0, 'sent without consent');
  assert.equal(engine.pending().length, 0);

  globalThis.navigator ??= {};
  const gpcBefore = Object.getOwnPropertyDescriptor(globalThis.navigator, 'globalPrivacyControl');
  Object.defineProperty(globalThis.navigator, 'globalPrivacyControl', { value: true, configurable: true });
  try {
    engine.setConsent('measurement', true);
    c.t = endOfDay(0);
    await engine.tick();
    assert.equal(calls.length, 0, 'sent under GPC');
    assert.equal(engine.status().gpc, true);
  } finally {
    if (gpcBefore) Object.defineProperty(globalThis.navigator, 'globalPrivacyControl', gpcBefore);
    else delete globalThis.navigator.globalPrivacyControl;
  }
  // The same engine sends once GPC is gone: the checks above were not vacuous.
  c.t = endOfDay(1);
  await engine.tick();
  assert.equal(calls.length, 1);

  // A window cap of two reports: the third day sends nothing.
  calls.length = 0;
  const capped = await openWith({ collector: collector.url, now: c.now, fetch: f, epsilonWindowMax: 2 });
  await capped.addCampaign(spring);
  capped.setConsent('measurement', true);
  for (let day = -1; day < 2; day++) {
    c.t = endOfDay(day);
    await capped.tick();
  }
  assert.equal(calls.length, 2, `expected two requests, got ${calls.length}`);
  const budget = await capped.budget();
  // Two reports at ε = 1: the realised ε of the coins, never above the campaign's.
  assert.ok(budget.spent <= 2 && budget.spent > 2 - 1e-6, `spent ${budget.spent}`);
  assert.equal(budget.windowMax, 2);
  assert.ok(budget.charged > 0 && budget.charged <= budget.lifetimeMax, `charged ${budget.charged}`);
  assert.equal(budget.ledger.length, 2);
});

test('reports reach the real collector once, and every report has the same length', async () => {
  const { f, calls } = recordingFetch();
  const lengths = new Set();
  const before = (await estimates(collector.url, 'spring-2027')).epochs.reduce((n, e) => n + e.reports, 0);
  for (const name of ['alice', 'bob', 'carla', 'dieter']) {
    // The end of the current epoch: every scheduled time has passed, still inside the epoch.
    const end = endOfDay(0);
    const engine = await openWith({ collector: collector.url, now: () => end, fetch: f });
    await engine.addCampaign(spring);
    fill(engine, name);
    engine.setConsent('measurement', true);
    await engine.tick();
    await engine.tick(); // same epoch: nothing more
    assert.equal(engine.pending().length, 0);
    const sent = engine.sent();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].status, 200);
    const [report] = JSON.parse(sent[0].body);
    lengths.add(JSON.stringify(report).length);
  }
  assert.equal(lengths.size, 1, `report lengths differ: ${[...lengths]}`);
  for (const call of calls) {
    assert.equal(call.init.credentials, 'omit');
    assert.equal(call.init.referrerPolicy, 'no-referrer');
    assert.equal(call.init.keepalive, true);
  }
  const afterCount = (await estimates(collector.url, 'spring-2027')).epochs.reduce((n, e) => n + e.reports, 0);
  assert.equal(afterCount - before, 4);
});

test('export(): everything kept and sent, as JSON, never the device secret', async () => {
  const end = endOfDay(0);
  const engine = await openWith({ collector: collector.url, now: () => end });
  await engine.addCampaign(spring);
  fill(engine, 'alice');
  engine.setConsent('measurement', true);
  await engine.tick(); // one report made and sent
  const out = await engine.export();
  const text = JSON.stringify(out);
  assert.deepEqual(JSON.parse(text), out, 'plain JSON');
  assert.equal(out.format, 'dpseg-export-1');
  assert.deepEqual(out.profile, engine.profile());
  assert.deepEqual(out.consent, { measurement: true });
  assert.deepEqual(out.memberships['spring-2027'], engine.membershipsForVisitor('spring-2027'));
  assert.equal(out.sent.length, 1);
  assert.equal(out.sent[0].body, engine.sent()[0].body, 'every byte sent');
  assert.deepEqual(out.ledger.map((e) => e.campaign), ['spring-2027']);
  assert.ok(out.campaigns.some((c) => c.id === 'spring-2027'));
  // The device state (secret and ledger, as stored) appears nowhere, whole or in part.
  const device = engine.deviceText;
  assert.ok(device && device.length > 40);
  for (let i = 0; i + 24 <= device.length; i += 8) assert.ok(!text.includes(device.slice(i, i + 24)), 'a piece of the device state was exported');
  assert.ok(!/secret/i.test(text));
});

test('the report module keeps no visitor data and refuses answers outside an item\'s values', async () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  const engine = await openWith({ now: () => now });
  await engine.addCampaign(spring);
  const { handle, runnable } = engine.handles.get('spring-2027');
  const reporter = new reporting.Reporter(2, 8);
  const campaign = reporter.load(Uint8Array.from(atob(runnable), (c) => c.charCodeAt(0)));
  const device = reporting.newDevice();
  const truth = (i) => engine.rt.itemTruth(handle, i, now);
  // No item has more than 128 values (the mechanism refuses bigger domains).
  for (const bad of [() => 200, () => -1, () => 0.5, () => 'x', () => { throw new Error('no'); }]) {
    assert.throws(() => reporter.report(campaign, device, bad, now), { code: 'bad-truth' });
  }
  // Refused reports spent nothing: the device still reports this epoch, once.
  const made = reporter.report(campaign, device, truth, now);
  assert.equal(JSON.parse(made.body).config_id, spring.config_id);
  assert.throws(() => reporter.report(campaign, made.device, truth, now), { code: 'already-reported' });
  // The ledger is in the device state the caller passes, not in the module.
  assert.doesNotThrow(() => reporter.report(campaign, device, truth, now));
  assert.throws(() => reporter.report(campaign + 1, device, truth, now), { code: 'unknown-campaign' });
});

test('a clock days off the collector\'s spends nothing; a campaign the collector stopped serving is dropped', async () => {
  const { f, calls } = recordingFetch();
  // Three days ahead: the collector would refuse the report's epoch.
  const ahead = endOfDay(3);
  const skewed = await openWith({ collector: collector.url, now: () => ahead, fetch: f });
  await skewed.addCampaign(spring);
  skewed.setConsent('measurement', true);
  await skewed.tick();
  assert.equal(calls.length, 0);
  assert.match(skewed.status().lastError, /^clock-skew/);
  assert.equal((await skewed.budget()).ledger.length, 0, 'no ε spent');
  // The collector answers 404 for the campaign: the device drops it and reports nothing.
  const end = endOfDay(0);
  const ended = async (url, init = {}) =>
    init.method !== 'POST' && String(url).includes('/v1/campaigns/spring-2027') ? new Response('{}', { status: 404 }) : f(url, init);
  const engine = await openWith({ collector: collector.url, now: () => end, fetch: ended });
  await engine.addCampaign(spring);
  engine.setConsent('measurement', true);
  await engine.tick();
  assert.equal(calls.length, 0);
  assert.deepEqual(engine.campaigns(), [], 'the ended campaign is gone');
  await assert.rejects(engine.loadCampaign('spring-2027'), { code: 'campaign-ended' });
});

test('the collector down or slow: the page opens from storage and still evaluates', async () => {
  const { store, storage } = mapStorage();
  const first = await dpseg.open({ collector: collector.url, storage, autoSchedule: false });
  await first.loadCampaign('spring-2027');
  first.setConsent('measurement', true);
  first.set('budget', 150);
  // Stopped (nothing listens there) and hanging (never answers): each opens within the timeout.
  const hang = () => new Promise(() => {});
  for (const opts of [{ collector: 'http://127.0.0.1:9' }, { collector: collector.url, fetch: hang, timeout: 200 }]) {
    const started = Date.now();
    const engine = await dpseg.open({ storage, autoSchedule: false, ...opts });
    const info = await engine.loadCampaign('spring-2027');
    assert.equal(info.id, 'spring-2027');
    assert.equal(engine.profile().attributes.budget, 150);
    assert.equal(typeof engine.membershipsForVisitor('spring-2027').segments.hikers, 'boolean');
    assert.ok(Date.now() - started < 2_500, `open took ${Date.now() - started} ms`);
    assert.match(engine.status().lastError, /^network/);
  }
  assert.ok(store.has('dpseg:schema'));
});

test('without persistent storage nothing spends ε unless the site opts in', async () => {
  const end = endOfDay(0);
  const calls = [];
  const f = async (url, init) => {
    calls.push(url);
    return fetch(url, init);
  };
  for (const [opts, requests] of [[{}, 0], [{ reportWithoutStorage: true }, 1]]) {
    calls.length = 0;
    const engine = await dpseg.open({ schema, storage: 'memory', autoSchedule: false, now: () => end, collector: collector.url, fetch: f, ...opts });
    await engine.addCampaign(spring);
    engine.setConsent('measurement', true);
    await engine.tick();
    assert.equal(calls.filter((u) => String(u).endsWith('/v1/reports')).length, requests, JSON.stringify(opts));
    if (requests === 0) assert.match(engine.status().lastError, /^no-storage/);
    // Evaluating works either way.
    assert.equal(typeof engine.membershipsForVisitor('spring-2027').segments.hikers, 'boolean');
  }
});

test('an unreadable stored device state is kept, never replaced by a new device', async () => {
  // Replacing it would restart the visitor's privacy budget (a fresh secret, an empty ledger).
  const storage = new Map();
  const backend = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, String(v)), removeItem: (k) => storage.delete(k) };
  const end = endOfDay(0);
  const engine = await dpseg.open({ schema, storage: backend, autoSchedule: false, now: () => end });
  await engine.addCampaign(spring);
  engine.setConsent('measurement', true);
  const garbage = btoa('dpd9 not a device state');
  storage.set('dpseg:device', garbage);
  engine.deviceText = garbage;
  await engine.tick();
  assert.equal(storage.get('dpseg:device'), garbage, 'the stored state is untouched');
  assert.equal(engine.pending().length, 0, 'nothing was made');
  assert.match(engine.lastError, /^device-syntax/);
});

test('the report module reads a stored device state of every format version (tests/spec/compiled/vectors.json)', () => {
  const vectors = JSON.parse(readFileSync(join(outdoor, '..', '..', 'tests', 'spec', 'compiled', 'vectors.json'), 'utf8'));
  const reporter = new reporting.Reporter(2, 8);
  const formats = vectors.device_states.map((d) => d.format);
  assert.ok(formats.includes('dpd1') && formats.includes('dpd2'), formats.join(', '));
  for (const d of vectors.device_states) {
    const bytes = Buffer.from(d.bytes, 'hex');
    const b = reporter.budget(bytes, Date.parse('2026-11-24T00:00:00Z'));
    const got = b.ledger.map((e) => [e.campaign, e.epoch, e.epsilon, e.at]);
    assert.deepEqual(got, d.ledger.spent, d.format);
  }
  // The compiled campaigns of the vectors load too, and hash to their config_id in the report
  // module (what its reports carry).
  for (const [id, c] of Object.entries(vectors.campaigns)) {
    assert.doesNotThrow(() => reporter.load(Buffer.from(c.compiled, 'hex')), id);
    assert.equal(reporting.contentId(Buffer.from(c.compiled, 'hex')), c.config_id, id);
  }
});

test('the report module refuses a mechanism whose coins do not give what it claims', async () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  const engine = await openWith({ now: () => now });
  await engine.addCampaign(spring);
  const { runnable } = engine.handles.get('spring-2027');
  const bytes = Uint8Array.from(atob(runnable), (c) => c.charCodeAt(0));
  const reporter = new reporting.Reporter(2, 8);
  assert.doesNotThrow(() => reporter.load(bytes));
  // Every float the mechanism stores (p, q and the ε figures) is recomputed from its coins on
  // loading: a stored figure changed in its 6th byte (a relative change near 2^-12) is refused.
  const view = new DataView(bytes.buffer);
  let refused = 0;
  for (let at = 0; at + 8 <= Math.min(bytes.length, 400); at++) {
    const x = view.getFloat64(at, true);
    if (!(x > 1e-6 && x < 20)) continue;
    const forged = bytes.slice();
    forged[at + 5] ^= 0x10;
    try {
      reporter.load(forged);
    } catch (e) {
      assert.equal(e.code, 'runnable-syntax');
      refused++;
    }
  }
  assert.ok(refused >= 4, `changed figures are refused (${refused})`);
});

test('an unreachable collector: the outbox retries with backoff, then drops what is too old to count', async () => {
  const c = clock(endOfDay(0));
  const attempts = [];
  // The collector answers the SDK's check of the campaign, then refuses every report POST.
  const down = async (url, init) => {
    if (init.method !== 'POST') return fetch(url, init);
    attempts.push({ at: c.t, body: init.body });
    throw new TypeError('connection refused');
  };
  const engine = await openWith({ collector: collector.url, now: c.now, fetch: down });
  await engine.addCampaign(spring);
  engine.setConsent('measurement', true);
  await engine.tick();
  assert.equal(engine.pending().length, 1);
  assert.match(engine.status().lastError, /will retry/);
  // Before the backoff is over, nothing is tried again; after it, the same bytes are.
  c.t += 100;
  await engine.flush();
  assert.equal(attempts.length, 1);
  c.t += 5_000;
  await engine.flush();
  assert.equal(attempts.length, 2);
  assert.equal(attempts[0].body, attempts[1].body);
  // Two epochs later the report would still count; three epochs later it would not.
  c.t = endOfDay(2);
  await engine.flush();
  assert.equal(engine.pending().filter((r) => r.epoch === Math.floor(endOfDay(0) / 86_400_000)).length, 1);
  c.t = endOfDay(3);
  await engine.flush();
  assert.deepEqual(engine.pending(), []);
});

/** A localStorage over a Map; `quota` bytes of keys and values at most (setItem throws past it). */
function mapStorage(quota = Infinity) {
  const store = new Map();
  const size = () => [...store].reduce((n, [k, v]) => n + k.length + v.length, 0);
  const storage = {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => {
      const before = store.get(k);
      store.set(k, String(v));
      if (size() > quota) {
        if (before === undefined) store.delete(k);
        else store.set(k, before);
        throw new Error('QuotaExceededError');
      }
    },
    removeItem: (k) => store.delete(k),
    key: (i) => [...store.keys()][i] ?? null,
    get length() {
      return store.size;
    },
  };
  return { store, storage };
}

/** Keys that hold something about the visitor (the data map and campaign caches do not). */
const personal = (store) => [...store.keys()].filter((k) => !/^dpseg:(schema|campaigns)$/.test(k));

test('forget empties the engine and its storage', async () => {
  const { store, storage } = mapStorage();
  const end = endOfDay(0);
  const engine = await dpseg.open({ schema, storage, autoSchedule: false, now: () => end });
  await engine.addCampaign(spring);
  fill(engine, 'alice');
  engine.setConsent('measurement', true);
  await engine.tick(); // a report: the device state exists now
  assert.ok(store.get('dpseg:device'));
  engine.forget();
  assert.equal(store.size, 0, `left behind: ${[...store.keys()]}`);
  assert.deepEqual(engine.profile(), { attributes: {}, events: [] });
  assert.deepEqual(engine.consent(), {});
  // A reopened engine starts from nothing, and the next page view stores nothing about the
  // visitor until they act (the demo sets an observed first-visit time on every page).
  const again = await dpseg.open({ schema, storage, autoSchedule: false, now: () => end });
  assert.deepEqual(again.profile(), { attributes: {}, events: [] });
  again.set('first_visit_at', '2026-11-24T10:00:00Z');
  await again.addCampaign(spring);
  await again.tick();
  assert.deepEqual(personal(store), [], 'written after forget without a choice');
});

test('forget deletes every key even after a storage failure moved the engine to memory', async () => {
  // Storage fills up while the visitor uses the site: the engine goes on in memory. Before,
  // forget() then removed nothing from the real storage, and everything came back.
  const { store, storage } = mapStorage(Infinity);
  const end = endOfDay(0);
  const engine = await dpseg.open({ schema, storage, autoSchedule: false, now: () => end });
  engine.setConsent('measurement', true);
  engine.set('budget', 120);
  // The quota is reached by the next write (the campaign's cache).
  storage.setItem = () => {
    throw new Error('QuotaExceededError');
  };
  await engine.addCampaign(spring);
  engine.set('budget', 130);
  assert.equal(engine.status().storage, 'memory', 'the quota was reached');
  assert.ok(store.size > 0);
  engine.forget();
  assert.equal(store.size, 0, `left behind: ${[...store.keys()]}`);
});

test('forget while a report is in flight: the answer writes nothing back', async () => {
  const { store, storage } = mapStorage();
  const end = endOfDay(0);
  let release;
  const gate = new Promise((r) => {
    release = r;
  });
  const slowFetch = async (url, init) => {
    await gate;
    return fetch(url, init);
  };
  const engine = await dpseg.open({ schema, storage, autoSchedule: false, now: () => end, collector: collector.url, fetch: slowFetch });
  await engine.addCampaign(spring);
  fill(engine, 'bob');
  engine.setConsent('measurement', true);
  const ticking = engine.tick(); // makes the report and starts the POST
  await new Promise((r) => setTimeout(r, 0));
  engine.forget();
  release();
  await ticking;
  assert.equal(store.size, 0, `written back after forget: ${[...store.keys()]}`);
});

test('before a choice, nothing about the visitor is stored', async () => {
  const { store, storage } = mapStorage();
  const end = endOfDay(0);
  const engine = await dpseg.open({ schema, storage, autoSchedule: false, now: () => end, collector: collector.url });
  await engine.addCampaign(spring);
  engine.set('first_visit_at', '2026-11-24T10:00:00Z'); // observed, not given
  engine.track('page_view', { path: '/' });
  await engine.tick();
  assert.deepEqual(personal(store), [], 'no device secret, no profile, no schedule before a choice');
  assert.equal(engine.profile().attributes.first_visit_at, '2026-11-24T10:00:00Z', 'kept in memory');
});

test("what is kept before consent follows the data map's purposes", async () => {
  const { store, storage } = mapStorage();
  const engine = await dpseg.open({ schema, storage, autoSchedule: false });
  assert.equal(schema.purposes.personalization.before_consent, 'declared', 'the example keeps quiz answers');
  assert.equal(engine.dataMap().purposes.measurement.before_consent, 'nothing');
  const stored = () => JSON.parse(store.get('dpseg:profile') ?? 'null');
  engine.set('first_visit_at', '2026-11-24T10:00:00Z'); // observed, measurement only
  engine.track('search', { query: 'tent' }); // an event: observed
  engine.set('budget', 80); // zero-party data given on purpose, for personalisation (kept before consent)
  assert.deepEqual(stored(), { attributes: { budget: 80 }, events: [] }, 'only the answer given on purpose');
  // No to personalisation: what only it allowed leaves storage, and stays in memory for this page.
  engine.setConsent('personalization', false);
  assert.equal(store.has('dpseg:profile'), false);
  assert.equal(engine.profile().attributes.budget, 80);
  engine.set('shoe_size', 42); // personalisation only, refused: not kept
  assert.equal(store.has('dpseg:profile'), false);
  // Yes to measurement: what measurement may use is kept (budget, first visit); the search
  // (personalisation only) and the shoe size are not.
  engine.setConsent('measurement', true);
  assert.deepEqual(stored().attributes, { budget: 80, first_visit_at: '2026-11-24T10:00:00Z' });
  assert.deepEqual(stored().events, []);
  engine.track('page_view', { path: '/' }, '2026-11-24T11:00:00Z');
  assert.deepEqual(stored().events.map((e) => e.name), ['page_view']);
  assert.equal(store.has('dpseg:device'), false, 'no device secret until a report is made');
  // A data map without a purposes table keeps nothing before consent, declared or not.
  const bare = structuredClone(schema);
  delete bare.purposes;
  const other = mapStorage();
  const e2 = await dpseg.open({ schema: bare, storage: other.storage, autoSchedule: false });
  e2.set('budget', 80);
  assert.deepEqual(personal(other.store), []);
  e2.setConsent('personalization', true);
  assert.match(other.store.get('dpseg:profile'), /"budget":80/);
});

test('memberships on the page: only a personalisation campaign, only with consent; sensitive campaigns ask on their own', async () => {
  const end = endOfDay(0);
  const calls = [];
  const fetchLog = async (url, init) => {
    if (init?.method === 'POST') calls.push(JSON.parse(init.body).map((r) => r.campaign));
    return fetch(url, init);
  };
  const engine = await dpseg.open({ schema, storage: 'memory', reportWithoutStorage: true, autoSchedule: false, now: () => end, collector: collector.url, fetch: fetchLog });
  await engine.loadCampaign('spring-2027');
  await engine.loadCampaign('picks');
  const family = await engine.loadCampaign('family-gear');
  assert.deepEqual(family.sensitive, [{ data: 'has_kids', category: 'children' }], 'the verifier names what it reads');
  assert.deepEqual(engine.campaigns().find((c) => c.id === 'picks').sensitive, []);
  engine.set('interests', ['hiking']);
  engine.set('budget', 250);
  const seen = [];
  engine.on('error', (e) => seen.push(e.code));
  // A measurement campaign is never for the page, whatever the consent.
  engine.setConsent('measurement', true);
  assert.deepEqual(engine.memberships('spring-2027'), { segments: {}, groups: {} });
  assert.equal(engine.inSegment('spring-2027', 'hikers'), false);
  assert.throws(() => engine.evaluate('spring-2027'), { code: 'not-for-personalization' });
  assert.equal(engine.membershipsForVisitor('spring-2027').segments.hikers, true, 'the visitor still sees it');
  // The personalisation campaign: before a choice the data map allows declared data for it.
  assert.deepEqual(engine.memberships('picks'), { segments: { hiking_packs: true, tents: false }, groups: { price_tier: 'high' } });
  assert.equal(engine.inSegment('picks', 'hiking_packs'), true);
  // "No" to personalisation: refused on the page, with the reason.
  engine.setConsent('personalization', false);
  assert.deepEqual(engine.memberships('picks'), { segments: {}, groups: {} });
  assert.equal(engine.inSegment('picks', 'hiking_packs'), false);
  assert.throws(() => engine.evaluate('picks'), { code: 'no-consent' });
  assert.deepEqual([...new Set(seen)].sort(), ['no-consent', 'not-for-personalization']);
  // Reports: measurement campaigns with the yes to measurement; the sensitive one only with
  // the yes to it too; the personalisation campaign only with both purposes.
  await engine.sendNow();
  assert.deepEqual(calls.flat().sort(), ['spring-2027'], `family-gear waits for its own yes; picks for personalisation (${engine.status().lastError})`);
  calls.length = 0;
  engine.setConsent('campaign:family-gear', true);
  engine.setConsent('personalization', true);
  assert.deepEqual(engine.consent(), { measurement: true, personalization: true, 'campaign:family-gear': true });
  await engine.sendNow();
  assert.deepEqual(calls.flat().sort(), ['family-gear', 'picks'], 'each sent, none dropped on the way');
  // A personalisation campaign's report is measurement: without measurement it waits.
  const other = await dpseg.open({ schema, storage: 'memory', reportWithoutStorage: true, autoSchedule: false, now: () => end, collector: collector.url, fetch: fetchLog });
  await other.loadCampaign('picks');
  other.setConsent('personalization', true);
  calls.length = 0;
  await other.sendNow();
  assert.deepEqual(calls, [], 'no measurement consent, no report');
  assert.equal(other.memberships('picks').segments.hiking_packs, false, 'used on the page all the same');
  // Withdrawing the campaign's own consent drops its queued reports, and only those (here the
  // collector takes no reports, so they wait in the outbox).
  const offline = await dpseg.open({ schema, storage: 'memory', reportWithoutStorage: true, autoSchedule: false, now: () => end, collector: collector.url, fetch: async (url, init) => (init?.method === 'POST' ? Promise.reject(new Error('offline')) : fetch(url, init)) });
  await offline.addCampaign(spring);
  await offline.addCampaign(await (await fetch(`${collector.url}/v1/campaigns/family-gear`)).json());
  for (const k of ['measurement', 'campaign:family-gear']) offline.setConsent(k, true);
  await offline.sendNow();
  assert.deepEqual(offline.pending().map((r) => r.campaign).sort(), ['family-gear', 'spring-2027'], 'both wait to be sent');
  offline.setConsent('campaign:family-gear', false);
  assert.deepEqual(offline.pending().map((r) => r.campaign), ['spring-2027']);
});

test('full or missing storage keeps the engine working in memory and says so', async () => {
  const full = {
    getItem: () => null,
    setItem: () => {
      throw new Error('QuotaExceededError');
    },
    removeItem: () => {},
    key: () => null,
    length: 0,
  };
  const engine = await dpseg.open({ schema, storage: full, autoSchedule: false });
  engine.set('budget', 150);
  assert.equal(engine.status().storage, 'memory');
  assert.match(engine.status().storageProblem, /QuotaExceeded/);
  assert.equal(engine.profile().attributes.budget, 150);
  // Node has no localStorage: the default falls back the same way.
  const plain = await dpseg.open({ schema, autoSchedule: false });
  assert.equal(plain.status().storage, 'memory');
});

test('the planner and the lint in the package agree with the CLI', async () => {
  const { execFileSync } = await import('node:child_process');
  const bin = join(outdoor, '..', '..', 'target', 'release', 'dpseg');
  const toml = join(outdoor, 'campaigns', 'spring-2027.toml');
  const cli = JSON.parse(execFileSync(bin, ['plan', '--campaign', toml, '--devices', '50000']));
  const p = dpseg.plan(spring, { devices: 50000, rate: 0.05 });
  // One shape (wire::Plan) for both, so the same figures at the same places.
  assert.deepEqual(p, cli);
  fitsShape(golden('plan'), p);
  // Another ε: a larger budget narrows every interval.
  const wider = dpseg.plan(spring, { devices: 50000, epsilon: 2 });
  const widths = (q) => [...Object.values(q.segments), ...Object.values(q.groups).flatMap(Object.values)].map((x) => x.half_width_95);
  widths(wider).forEach((w, i) => assert.ok(w < widths(p)[i]));
  assert.throws(() => dpseg.plan(spring, { devices: 0 }), { code: 'bad-plan' });

  const cliLint = JSON.parse(execFileSync(bin, ['lint', '--schema', join(outdoor, 'schema.toml'), '--campaign', toml], { stdio: ['ignore', 'pipe', 'ignore'] }));
  const codes = (fs) => fs.map((f) => `${f.code}/${f.segment ?? ''}`).sort();
  assert.ok(cliLint.findings.length > 0);
  assert.deepEqual(codes(dpseg.lint(schema, spring)), codes(cliLint.findings));
  fitsShape(golden('lint-report'), { ...cliLint, findings: dpseg.lint(schema, spring) });
});

test('the SDK reads the golden campaign document (tests/spec/wire), and the collector serves its shape', async () => {
  const engine = await openWith();
  const info = await engine.addCampaign(golden('campaign-document'));
  assert.equal(info.config_id, golden('campaign-document').config_id, 'verified: the device hashes it the same');
  fitsShape(golden('campaign-document'), spring);
  fitsShape(golden('campaign-list'), await (await fetch(`${collector.url}/v1/campaigns`)).json());
  // The checker catches a renamed field.
  const renamed = { ...golden('plan'), epsilonReport: 1 };
  assert.throws(() => fitsShape(golden('plan'), renamed), /epsilonReport/);
});

test('garbage across the boundary: only DpsegErrors with a real code, and the engine keeps working', async () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const junk = (depth = 0) => {
    const leaf = [null, undefined, true, 0, -1, 1e308, NaN, Infinity, -0, 2 ** 53 + 2, '', 'x'.repeat(5000), 'hiking', '2026-11-24T00:00:00Z', '\u0000\uffff', 'budget'];
    if (depth > 2 || rand() < 0.5) return pick(leaf);
    if (rand() < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => junk(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [pick(['name', 'at', 'props', 'budget', 'x', '']), junk(depth + 1)]));
  };
  const names = ['budget', 'interests', 'country', 'has_kids', 'signup_at', 'nope', '', 'x'.repeat(300)];
  const engine = await openWith({ now: () => Date.parse('2026-11-24T12:00:00Z') });
  await engine.addCampaign(spring);
  // The runtime's compact inputs, cut short or with a byte changed.
  const runnable = engine.handles.get('spring-2027').runnable;
  const device = reporting.newDevice();
  const damaged = (b) => {
    const bytes = typeof b === 'string' ? Uint8Array.from(atob(b), (c) => c.charCodeAt(0)) : Uint8Array.from(b);
    if (rand() < 0.5) return bytes.slice(0, Math.floor(rand() * bytes.length));
    bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
    return bytes;
  };
  const reporter = new reporting.Reporter(2, 8);
  const truths = [() => 0, () => 1, () => -1, () => NaN, () => junk(), (i) => engine.rt.itemTruth(0, i, Date.now())];
  const mutated = () => {
    const d = structuredClone(spring);
    const k = pick([...Object.keys(d), 'extra']);
    d[k] = junk();
    return rand() < 0.2 ? junk() : d;
  };
  const calls = [
    () => engine.set(pick(names), junk()),
    () => engine.track(pick(['purchase', 'page_view', 'nope', '']), junk(), pick([undefined, '2026-11-20T00:00:00Z', 'soon', 1e20])),
    () => engine.addCampaign(mutated()),
    () => engine.explain('spring-2027', pick(['hikers', 'nope', ''])),
    () => engine.inSegment(pick(['spring-2027', 'nope']), pick(['hikers', 'dach', 'x'])),
    () => engine.rt.importProfile(junk(), pick([0, NaN, -1e300, Date.now()])),
    () => engine.rt.loadRunnable(damaged(runnable)),
    () => engine.rt.itemTruth(pick([0, 7]), pick([0, 1, 500, -1]), pick([NaN, Date.now()])),
    () => reporter.load(damaged(runnable)),
    () => reporter.report(pick([0, 1, 7]), damaged(device), pick(truths), pick([NaN, Date.now()])),
    () => engine.rt.evaluate(pick([0, 7, 2 ** 32 - 1]), pick([NaN, Infinity, Date.now()])),
    () => dpseg.lint(junk(), junk()),
    () => dpseg.plan(mutated(), { devices: junk(), rate: junk() }),
  ];
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    try {
      await pick(calls)();
    } catch (e) {
      errors += 1;
      // The SDK throws DpsegError instances; the runtime module (`engine.rt`) throws errors of the
      // same shape, which the SDK rewraps.
      assert.ok(e instanceof dpseg.DpsegError || e.name === 'DpsegError', `not a DpsegError: ${e && e.stack}`);
      assert.notEqual(e.code, 'internal', e.message);
      assert.ok(typeof e.code === 'string' && e.code.length > 0);
    }
    // Whatever happened, the engine still answers.
    engine.profile();
  }
  assert.ok(errors > 500, `too few refusals to mean anything: ${errors}`);
  assert.deepEqual(Object.keys(engine.membershipsForVisitor('spring-2027')), ['segments', 'groups']);
});

test('a number outside the data map\'s range is refused by name, and nothing changes', async () => {
  const engine = await openWith();
  const range = engine.dataMap().attributes.budget;
  assert.deepEqual([range.min, range.max], [0, 10000]);
  engine.set('budget', 150);
  for (const bad of [-5, 99999, -0.5, 10000.5]) {
    assert.throws(() => engine.set('budget', bad), (e) => {
      assert.equal(e.code, 'out-of-range');
      assert.equal(e.details.path, '$.attributes.budget');
      // The core's message for the same value (its check runs wherever it has std: CLI, tools).
      const core = (() => {
        try {
          dpseg.tools.checkProfile(schema, { attributes: { budget: bad } }, '2026-11-24T00:00:00Z');
        } catch (c) {
          return c;
        }
      })();
      assert.equal(core?.code, 'out-of-range');
      assert.equal(e.message, core.message);
      assert.match(e.message, /^profile: \$\.attributes\.budget: -?[\d.]+ is outside the data map's range \(min 0, max 10000\)$/);
      return true;
    });
    assert.equal(engine.profile().attributes.budget, 150);
  }
  // Both bounds are allowed.
  engine.set('budget', 0);
  engine.set('budget', 10000);
  assert.equal(engine.profile().attributes.budget, 10000);
});
