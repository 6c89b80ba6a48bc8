// The browser package in headless Chromium (Debian's chromium, driven by playwright-core)
// against the real collector binary, which also serves the package and this test page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { pkg, root, specFiles, startCollector, estimates } from './harness.js';

const CHROMIUM = process.env.DPSEG_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);

let collector;
let browser;
let schema;
let spring;
/** Every request any page of this suite made: `{url, method, body}`. */
const requests = [];

before(async () => {
  assert.ok(CHROMIUM, 'Debian chromium not found; scripts/test.sh installs it');
  collector = await startCollector({
    statics: [`/dpseg=${pkg}`, `/test=${join(root, 'crates', 'wasm', 'tests')}`, `/spec=${join(root, 'tests', 'spec')}`],
  });
  schema = await (await fetch(`${collector.url}/v1/schema`)).json();
  spring = await (await fetch(`${collector.url}/v1/campaigns/spring-2027`)).json();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

/** A fresh browser context (empty storage) with a page on the test origin, recording requests. */
async function newPage({ gpc = false } = {}) {
  const context = await browser.newContext();
  if (gpc) {
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
    });
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw new Error(`page error: ${e}`);
  });
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
  await page.goto(`${collector.url}/test/browser/index.html`);
  return { context, page };
}

/** The visitor of these tests: values long enough that finding one in a body means a leak. */
const VISITOR = {
  attributes: {
    budget: 4827.5,
    interests: ['kayaking', 'climbing'],
    country: 'Liechtenstein',
    experience_level: 'intermediate',
    favorite_season: 'autumn',
    household_size: 3,
    signup_at: '2026-03-14T09:30:00Z',
  },
  events: [
    { name: 'product_view', at: '2026-11-20T10:00:00Z', props: { category: 'snowshoes', price: 3291, brand: 'Alpenglow' } },
    { name: 'purchase', at: '2026-06-02T12:00:00Z', props: { amount: 8061, category: 'crampons', items: 1 } },
  ],
};

/**
 * Opens an engine in the page (kept as `window.engine`), with the clock at `window.now` (the
 * end of the current day unless set) and the campaign document passed in (no fetch).
 */
async function openEngine(page, { fill = true, consent = false, storageKey = 'dpseg' } = {}) {
  await page.evaluate(
    async ({ schema, spring, visitor, fill, consent, storageKey }) => {
      const dpseg = await import('/dpseg/dpseg.js');
      window.dpseg = dpseg;
      window.now ??= (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000 - 1;
      const engine = await dpseg.open({
        schema,
        collector: location.origin,
        now: () => window.now,
        autoSchedule: false,
        storageKey,
      });
      await engine.addCampaign(spring);
      if (fill) {
        for (const [k, v] of Object.entries(visitor.attributes)) engine.set(k, v);
        for (const e of visitor.events) engine.track(e.name, e.props, e.at);
      }
      if (consent) engine.setConsent('measurement', true);
      window.engine = engine;
    },
    { schema, spring, visitor: VISITOR, fill, consent, storageKey },
  );
}

const reportRequests = () => requests.filter((r) => r.url.includes('/v1/reports'));
const totalReports = async () => (await estimates(collector.url, 'spring-2027')).epochs.reduce((n, e) => n + e.reports, 0);

test('the spec suite passes in Chromium with the same results as cargo test', async () => {
  const { context, page } = await newPage();
  const names = specFiles().map((f) => f.name);
  const result = await page.evaluate(async (names) => {
    const dpseg = { ...(await import('/dpseg/dpseg.js')), ...(await import('/dpseg/dpseg_tools.js')) };
    await dpseg.loadTools();
    const { runSpec } = await import('/test/spec-runner.js');
    const files = [];
    for (const name of names) files.push({ name, doc: await (await fetch(`/spec/${name}`)).json() });
    return runSpec(dpseg, files);
  }, names);
  assert.deepEqual(result.failures, []);
  assert.ok(result.total >= 500 && result.negative >= 200, `suite shrank: ${result.total}`);
  await context.close();
});

test('state survives a reload', async () => {
  const { context, page } = await newPage();
  await openEngine(page, { consent: true });
  const before = await page.evaluate(() => ({
    profile: engine.profile(),
    consent: engine.consent(),
    device: localStorage.getItem('dpseg:device'),
    status: engine.status(),
  }));
  assert.equal(before.status.storage, 'persistent');
  await page.reload();
  // A site opens the engine on every load, with its data map.
  const reopened = await page.evaluate(async (schema) => {
    const dpseg = await import('/dpseg/dpseg.js');
    const engine = await dpseg.open({ schema, autoSchedule: false });
    return {
      profile: engine.profile(),
      consent: engine.consent(),
      device: localStorage.getItem('dpseg:device'),
      campaigns: engine.campaigns().map((c) => c.id),
    };
  }, schema);
  assert.deepEqual(reopened.profile, before.profile);
  assert.deepEqual(reopened.consent, { measurement: true });
  assert.equal(reopened.device, before.device);
  assert.deepEqual(reopened.campaigns, ['spring-2027']);
  await context.close();
});

test('a first page and every later one load the runtime alone; the report module comes when a report is due', async () => {
  const { context, page } = await newPage();
  const module = (name) => (r) => new RegExp(`/dpseg/${name}(_bg\\.wasm|\\.js)$`).test(new URL(r.url).pathname);
  const verifier = module('dpseg_verify');
  const tools = module('dpseg_core');
  const reporting = module('dpseg_report');
  const check = (r) => module('dpseg_check')(r) || module('dpseg_checking')(r);
  // What a site does on every page: open with the collector (which serves the data map), fetch
  // the campaign, evaluate. On the first page the device checks the compiled campaign with the
  // check module; no page needs the verifier.
  const visit = () =>
    page.evaluate(async () => {
      const dpseg = await import('/dpseg/dpseg.js');
      window.now = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000 - 1;
      const engine = await dpseg.open({ collector: location.origin, now: () => window.now, autoSchedule: false });
      window.engine = engine;
      await engine.loadCampaign('spring-2027');
      engine.set('interests', ['hiking']);
      engine.setConsent('measurement', true);
      return Object.values(engine.membershipsForVisitor('spring-2027').segments);
    });
  for (const which of ['first', 'later']) {
    if (which === 'later') await page.reload();
    const start = requests.length;
    const flat = await visit();
    const fetched = requests.slice(start);
    assert.ok(flat.length > 0, which);
    assert.ok(
      !fetched.some((r) => verifier(r) || tools(r) || reporting(r) || (which === 'later' && check(r))),
      `${which} page: more than the runtime${which === 'first' ? ' and the check' : ''} was fetched: ${fetched.map((r) => r.url).join(', ')}`,
    );
    if (which === 'first') {
      assert.ok(fetched.some((r) => r.url.endsWith('/dpseg/dpseg_rt_bg.wasm')), 'the runtime was fetched');
      assert.ok(fetched.some(check), 'the first sight of the campaign fetched the check module');
    }
  }
  const start = requests.length;
  // The report that is due: the report module is fetched to make it.
  const due = requests.length;
  const sent = await page.evaluate(async () => {
    await window.engine.sendNow();
    return window.engine.sent().length;
  });
  assert.equal(sent, 1, 'the report went out');
  assert.ok(requests.slice(due).some(reporting), 'making the report fetched the report module');
  assert.ok(!requests.slice(due).some((r) => verifier(r) || tools(r)));
  // Explaining in words is the full module's: asking for it loads it.
  const words = await page.evaluate(async () => {
    const dpseg = await import('/dpseg/dpseg.js');
    const engine = await dpseg.open({ schema: (await (await fetch('/v1/schema')).text()), autoSchedule: false });
    return (await engine.explain('spring-2027', 'hikers')).summary;
  });
  assert.match(words, /hikers/);
  assert.ok(requests.slice(start).some(tools));
  await context.close();
});

test('consent off: no network request', async () => {
  const { context, page } = await newPage();
  const start = requests.length;
  await openEngine(page, { consent: false });
  await page.evaluate(async () => {
    for (let day = 0; day < 3; day++) {
      window.now += 86_400_000;
      await engine.tick();
    }
  });
  const made = requests.slice(start).filter((r) => r.url.includes('/v1/'));
  assert.deepEqual(made, []);
  await context.close();
});

test('GPC on: no network request, even with consent', async () => {
  const { context, page } = await newPage({ gpc: true });
  const start = requests.length;
  await openEngine(page, { consent: true });
  const status = await page.evaluate(async () => {
    await engine.tick();
    window.now += 86_400_000;
    await engine.tick();
    return engine.status();
  });
  assert.equal(status.gpc, true);
  assert.deepEqual(requests.slice(start).filter((r) => r.url.includes('/v1/')), []);
  await context.close();
});

test('forget: storage empty and no further requests', async () => {
  const { context, page } = await newPage();
  await openEngine(page, { consent: true });
  await page.evaluate(() => engine.tick());
  const start = requests.length;
  const left = await page.evaluate(async () => {
    engine.forget();
    for (let day = 1; day < 3; day++) {
      window.now += 86_400_000;
      await engine.tick();
    }
    return { keys: Object.keys(localStorage), profile: engine.profile(), sent: engine.sent() };
  });
  assert.deepEqual(left.keys, []);
  assert.deepEqual(left.profile, { attributes: {}, events: [] });
  assert.deepEqual(left.sent, []);
  assert.deepEqual(requests.slice(start).filter((r) => r.url.includes('/v1/')), []);
  await context.close();
});

test('a collector answering 500 then 200: the report is delivered exactly once', async () => {
  const { context, page } = await newPage();
  const countBefore = await totalReports();
  let posts = 0;
  await page.route('**/v1/reports', async (route) => {
    posts += 1;
    if (posts === 1) return route.fulfill({ status: 500, body: '{"error": {"code": "internal"}}' });
    if (posts === 2) {
      // The collector stores it, but the answer is lost on the way back.
      await route.fetch();
      return route.fulfill({ status: 503, body: '' });
    }
    return route.continue();
  });
  await openEngine(page, { consent: true });
  const log = await page.evaluate(async () => {
    window.now -= 60_000; // leave room for retries inside the epoch
    await engine.tick();
    const pendingAfterFailure = engine.pending().length;
    for (let i = 0; i < 2; i++) {
      window.now += 30_000; // past the backoff
      await engine.tick();
    }
    return { pendingAfterFailure, pending: engine.pending().length, sent: engine.sent() };
  });
  assert.equal(log.pendingAfterFailure, 1);
  assert.deepEqual(log.sent.map((s) => s.status), [500, 503, 200]);
  assert.equal(log.pending, 0);
  // The same bytes each time: the nonce makes the retries idempotent.
  assert.equal(new Set(log.sent.map((s) => s.body)).size, 1);
  assert.equal((await totalReports()) - countBefore, 1);
  await context.close();
});

test('every report of a campaign has the same byte length, whatever the profile', async () => {
  const { context, page } = await newPage();
  const lengths = await page.evaluate(
    async ({ schema, spring, visitor }) => {
      const dpseg = await import('/dpseg/dpseg.js');
      const now = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000 - 1;
      const variants = [
        {},
        visitor.attributes,
        { budget: 10, interests: ['hiking'] },
        { budget: 10000, interests: ['hiking', 'camping', 'yoga', 'skiing', 'running'], has_kids: true },
      ];
      const out = [];
      for (const attrs of variants) {
        const engine = await dpseg.open({ schema, collector: location.origin, storage: 'memory', reportWithoutStorage: true, autoSchedule: false, now: () => now });
        await engine.addCampaign(spring);
        for (const [k, v] of Object.entries(attrs)) engine.set(k, v);
        engine.setConsent('measurement', true);
        await engine.tick();
        out.push(engine.sent().map((s) => [s.status, s.body.length])[0] ?? null);
      }
      return out;
    },
    { schema, spring, visitor: VISITOR },
  );
  assert.equal(lengths.length, 4);
  for (const l of lengths) assert.deepEqual(l, [200, lengths[0][1]]);
  await context.close();
});

test('full storage: the engine keeps working in memory, says so, and throws nothing into the page', async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    Storage.prototype.setItem = function () {
      throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
    };
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${collector.url}/test/browser/index.html`);
  await openEngine(page, { consent: true });
  const status = await page.evaluate(async () => {
    await engine.tick();
    return { status: engine.status(), profile: engine.profile(), sent: engine.sent().map((x) => x.status) };
  });
  assert.equal(status.status.storage, 'memory');
  assert.match(status.status.storageProblem, /quota/i);
  assert.equal(status.profile.attributes.budget, 4827.5);
  // Without storage every page would be a new device: nothing spends ε (docs/privacy.md).
  assert.deepEqual(status.sent, []);
  assert.match(status.status.lastError, /^no-storage/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('two tabs share one ledger: one report per epoch, and a withdrawal or forget in one holds in both', async () => {
  const { context, page } = await newPage();
  const other = await context.newPage();
  other.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
  await other.goto(`${collector.url}/test/browser/index.html`);
  await openEngine(page, { consent: true });
  await openEngine(other, { fill: false });
  const start = reportRequests().length;
  // Both tabs reach the end of the epoch; only the first may report.
  await page.evaluate(() => engine.tick());
  const device = await page.evaluate(() => localStorage.getItem('dpseg:device'));
  await other.waitForFunction((d) => localStorage.getItem('dpseg:device') === d, device);
  await other.evaluate(() => engine.tick());
  const made = reportRequests().slice(start);
  assert.equal(made.length, 1, `requests sent: ${made.length}`);
  assert.equal(JSON.parse(made[0].body).length, 1);
  // The other tab saw the visitor's profile and consent, too.
  assert.deepEqual(await other.evaluate(() => engine.profile()), await page.evaluate(() => engine.profile()));

  // Withdrawal in one tab: the next epoch sends nothing from either.
  await other.evaluate(() => engine.setConsent('measurement', false));
  await page.waitForFunction(() => JSON.parse(localStorage.getItem('dpseg:consent')).measurement === false);
  for (const p of [page, other]) {
    await p.evaluate(async () => {
      window.now += 86_400_000;
      await engine.tick();
    });
  }
  assert.equal(reportRequests().length - start, 1);

  // Forget in one tab: the other forgets as well and sends nothing.
  await other.evaluate(() => engine.setConsent('measurement', true));
  await page.waitForFunction(() => JSON.parse(localStorage.getItem('dpseg:consent')).measurement === true);
  await page.evaluate(() => engine.forget());
  // Storage reaches the other tab's process asynchronously (milliseconds).
  await other.waitForFunction(() => localStorage.length === 0);
  const after = await other.evaluate(async () => {
    window.now += 86_400_000;
    await engine.tick();
    return { profile: engine.profile(), keys: Object.keys(localStorage) };
  });
  assert.deepEqual(after.profile, { attributes: {}, events: [] });
  assert.deepEqual(after.keys, []);
  assert.equal(reportRequests().length - start, 1);
  await context.close();
});

test('no request body of the whole suite contains a raw profile value', () => {
  // Runs last: `requests` holds every request of every page above.
  const values = [];
  const collect = (v) => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    else if (typeof v === 'string' || typeof v === 'number') values.push(String(v));
  };
  collect(VISITOR.attributes);
  collect(VISITOR.events.map((e) => [e.at, e.props]));
  const distinctive = values.filter((v) => v.length >= 4);
  assert.ok(distinctive.length >= 10);
  const bodies = requests.map((r) => r.body).filter((b) => b.length > 0);
  assert.ok(bodies.length >= 4, `the suite sent too little to check: ${bodies.length} bodies`);
  for (const body of bodies) {
    for (const v of distinctive) assert.ok(!body.includes(v), `a request body contains ${v}: ${body}`);
  }
});

test('reports go cross-origin as CORS-simple requests, one campaign per request', async () => {
  // The site on one origin, the collector on another (another port).
  const site = await startCollector({ statics: [`/dpseg=${pkg}`, `/test=${join(root, 'crates', 'wasm', 'tests')}`] });
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const seen = [];
  cdp.on('Network.requestWillBeSent', (e) => seen.push({ url: e.request.url, method: e.request.method, type: e.type }));
  try {
    await page.goto(`${site.url}/test/browser/index.html`);
    const family = await (await fetch(`${collector.url}/v1/campaigns/family-gear`)).json();
    const sent = await page.evaluate(
      async ({ schema, spring, family, visitor, collectorUrl }) => {
        const dpseg = await import('/dpseg/dpseg.js');
        const end = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000 - 1;
        const engine = await dpseg.open({ schema, collector: collectorUrl, now: () => end, autoSchedule: false });
        await engine.addCampaign(spring);
        await engine.addCampaign(family).catch(() => {}); // refused where it needs a review: fine
        for (const [k, v] of Object.entries(visitor.attributes)) engine.set(k, v);
        engine.setConsent('measurement', true);
        engine.setConsent('personalization', true);
        engine.setConsent('campaign:family-gear', true); // it reads sensitive data: asked on its own
        // Both campaigns' reports now (family-gear's epoch is a week: its random time may be later).
        await engine.sendNow();
        return { sent: engine.sent(), campaigns: engine.campaigns().map((c) => c.id), status: engine.status(), pending: engine.pending() };
      },
      { schema, spring, family, visitor: VISITOR, collectorUrl: collector.url },
    );
    assert.notEqual(new URL(site.url).origin, new URL(collector.url).origin);
    assert.ok(sent.sent.length >= 1);
    for (const s of sent.sent) {
      assert.equal(s.status, 200, JSON.stringify(s));
      const campaigns = new Set(JSON.parse(s.body).map((r) => r.campaign));
      assert.equal(campaigns.size, 1, 'one campaign per request');
    }
    assert.equal(sent.sent.length, sent.campaigns.length, `one request per campaign: ${JSON.stringify(sent.status)} ${JSON.stringify(sent.pending)}`);
    const reports = seen.filter((r) => r.url.startsWith(`${collector.url}/v1/reports`));
    assert.ok(reports.some((r) => r.method === 'POST'));
    assert.deepEqual(reports.filter((r) => r.method === 'OPTIONS' || r.type === 'Preflight'), [], 'no CORS preflight');
  } finally {
    await context.close();
    await site.stop();
  }
});

test('two tabs whose timers fire together make one report between them (Web Locks)', async () => {
  const { context, page } = await newPage();
  const other = await context.newPage();
  await other.goto(`${collector.url}/test/browser/index.html`);
  await openEngine(page, { consent: true });
  await openEngine(other, { fill: false });
  await other.waitForFunction(() => JSON.parse(localStorage.getItem('dpseg:consent') ?? '{}').measurement === true);
  // Both tabs tick at once, several epochs in a row (from two days back to tomorrow, the
  // epochs the collector accepts): one report per epoch in all.
  let made = 0;
  for (let day = 0; day < 4; day++) {
    const tick = (p) =>
      p.evaluate(async (d) => {
        window.now = (Math.floor(Date.now() / 86_400_000) - 1 + d) * 86_400_000 - 1;
        await engine.tick();
        return engine.sent().length;
      }, day);
    await Promise.all([tick(page), tick(other)]);
    const counts = await Promise.all([page, other].map((p) => p.evaluate(() => JSON.parse(localStorage.getItem('dpseg:sent') ?? '[]').length)));
    made = Math.max(...counts);
    assert.equal(made, day + 1, `day ${day}: ${counts}`);
  }
  const ledger = await page.evaluate(async () => (await engine.budget()).ledger.length);
  assert.equal(ledger, 4, 'the ledger and the requests agree');
  assert.ok(await page.evaluate(() => typeof navigator.locks?.request === 'function'), 'Chromium has Web Locks');
  await context.close();
});

test('the native bridge: a pre-load queue, push after loading, and messages from allowed origins only', async () => {
  const other = await startCollector({ statics: [`/test=${join(root, 'crates', 'wasm', 'tests')}`] });
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${collector.url}/test/browser/index.html`);
    const result = await page.evaluate(
      async ({ schema, otherOrigin }) => {
        // What an app's WKUserScript or evaluateJavascript does before the SDK loads.
        window.dpsegQueue = [['set', 'budget', 321], ['setConsent', 'measurement', true], ['forget'], 'junk'];
        const dpseg = await import('/dpseg/dpseg.js');
        const errors = [];
        const engine = await dpseg.open({ schema, autoSchedule: false, bridgeOrigins: [location.origin] });
        engine.on('error', (e) => errors.push(e.code));
        const queued = { budget: engine.profile().attributes.budget, consent: engine.consent() };
        window.dpsegQueue.push(['set', 'interests', ['hiking']]);
        // From this page's origin (allowed), then from another origin's frame (not allowed).
        await new Promise((done) => {
          window.addEventListener('message', function seen(e) {
            if (e.data?.dpseg?.[1] === 'household_size') {
              window.removeEventListener('message', seen);
              setTimeout(done, 0);
            }
          });
          window.postMessage({ dpseg: ['set', 'household_size', 4] }, '*');
        });
        await new Promise((done) => {
          window.addEventListener('message', (e) => e.data?.posted && setTimeout(done, 0));
          const frame = document.createElement('iframe');
          frame.src = `${otherOrigin}/test/browser/post.html`;
          document.body.append(frame);
        });
        window.dpsegQueue.push(['set', 'budget', 'not a number']);
        return { queued, profile: engine.profile().attributes, errors };
      },
      { schema, otherOrigin: other.url },
    );
    assert.deepEqual(result.queued, { budget: 321, consent: { measurement: true } }, 'the queue ran in order; forget is not bridged');
    assert.deepEqual(result.profile.interests, ['hiking']);
    assert.equal(result.profile.household_size, 4, 'a message from an allowed origin ran');
    assert.equal(result.profile.budget, 321, 'a message from another origin did not, nor a bad value');
    assert.ok(result.errors.length >= 1, `a bad command is an error event: ${result.errors}`);
  } finally {
    await context.close();
    await other.stop();
  }
});

test('consent follows a TCF v2.2 CMP and Google Consent Mode, as the site maps them', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${collector.url}/test/browser/index.html`);
    const steps = await page.evaluate(async (schema) => {
      // A stub CMP: the visitor first consents to purposes 1, 8 and 9, then withdraws 8.
      const listeners = [];
      let tc = { gdprApplies: true, eventStatus: 'tcloaded', listenerId: 1, purpose: { consents: { 1: true, 8: true, 9: true } } };
      window.__tcfapi = (cmd, version, cb) => {
        if (cmd === 'addEventListener') {
          listeners.push(cb);
          cb(tc, true);
        }
      };
      const dpseg = await import('/dpseg/dpseg.js');
      const { connectTcf, connectConsentMode } = await import('/dpseg/dpseg_consent.js');
      const engine = await dpseg.open({ schema, storage: 'memory', autoSchedule: false });
      const out = [];
      connectTcf(engine, { purposes: { measurement: [1, 8, 9], personalization: [1, 3, 4] } });
      out.push(engine.consent());
      tc = { ...tc, eventStatus: 'useractioncomplete', purpose: { consents: { 1: true, 8: false, 9: true } } };
      for (const l of listeners) l(tc, true);
      out.push(engine.consent());
      // Consent Mode on another engine: a default already in the dataLayer, then an update.
      window.dataLayer = [];
      window.gtag = function () {
        window.dataLayer.push(arguments);
      };
      gtag('consent', 'default', { analytics_storage: 'denied', ad_user_data: 'denied' });
      const other = await dpseg.open({ schema, storage: 'memory', autoSchedule: false, storageKey: 'other' });
      connectConsentMode(other, { types: { measurement: ['analytics_storage'], personalization: ['ad_user_data', 'ad_personalization'] } });
      out.push(other.consent());
      gtag('consent', 'update', { analytics_storage: 'granted', ad_user_data: 'granted' });
      out.push(other.consent());
      gtag('consent', 'update', { ad_personalization: 'granted' });
      out.push(other.consent());
      return out;
    }, schema);
    assert.deepEqual(steps, [
      { measurement: true, personalization: false },
      { measurement: false, personalization: false },
      { measurement: false, personalization: false },
      { measurement: true, personalization: false },
      { measurement: true, personalization: true },
    ]);
  } finally {
    await context.close();
  }
});
