// End-to-end: the demo site, preference center and dashboard in headless Chromium (Debian's,
// driven by playwright-core) against the real `dpseg demo` (collector + SQLite + simulated
// population). Writes its screenshots to target/screenshots/ (never to tracked files:
// `scripts/screenshots.sh` copies them over the README's, in docs/screenshots/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkgDir = join(root, 'crates', 'wasm', 'pkg');
/** What a visitor's first page may load of the SDK, JS and wasm, each gzip -9 (README, "Size"). */
const FIRST_VISIT_BUDGET = 64 * 1024;
const shots = process.env.DPSEG_SCREENSHOTS ?? join(root, 'target', 'screenshots');
const CHROMIUM = process.env.DPSEG_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);

let demo;
let browser;
/** Every request any page made: `{url, method, body}`. */
const requests = [];

/** The visitor of this suite; every value is long enough that finding it in a body is a leak. */
const ANSWERS = { budget: '4827', interests: ['kayaking', 'climbing'], experience: 'intermediate', season: 'autumn', tentNights: '173', household: '6' };
const RAW = ['4827', 'kayaking', 'climbing', 'intermediate', 'autumn'];

function startDemo() {
  const dir = mkdtempSync(join(tmpdir(), 'dpseg-e2e-'));
  const child = spawn(join(root, 'target', 'release', 'dpseg'), ['demo', '--data-dir', dir, '--listen', '127.0.0.1:0', '--devices', '3000', '--epochs', '4'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c;
      const site = /^site:\s+(\S+)$/m.exec(out);
      const dashboard = /^dashboard:\s+(\S+)$/m.exec(out);
      const token = /^token:\s+(\S+)$/m.exec(out);
      if (site && dashboard && token) {
        resolve({
          site: site[1].replace(/\/$/, ''),
          dashboard: dashboard[1],
          token: token[1],
          stop: () => new Promise((done) => {
            child.once('exit', () => {
              rmSync(dir, { recursive: true, force: true });
              done();
            });
            child.kill('SIGTERM');
          }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`dpseg demo exited with ${code}:\n${err}`)));
  });
}

before(async () => {
  assert.ok(CHROMIUM, 'Debian chromium not found; scripts/test.sh installs it');
  mkdirSync(shots, { recursive: true });
  demo = await startDemo();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

async function newPage(width = 1200, { gpc = false } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
  if (gpc) {
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
    });
  }
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
  page.on('dialog', (d) => d.accept());
  return { context, page, errors };
}

const reportPosts = (from = 0) => requests.slice(from).filter((r) => r.url.endsWith('/v1/reports'));

/** Answers the quiz on the home page, consenting to measurement or not. */
async function answerQuiz(page, { consent }) {
  await page.goto(`${demo.site}/`);
  await page.waitForFunction(() => window.dpsegEngine !== undefined);
  await page.waitForSelector('body[data-ready="yes"]');
  if (await page.isVisible('#consent')) {
    await page.click(consent ? '[data-consent="yes"]' : '[data-consent="no"]');
  } else {
    await page.evaluate((c) => window.dpsegEngine.setConsent('measurement', c), consent);
  }
  for (const i of ANSWERS.interests) await page.check(`input[name="interests"][value="${i}"]`);
  await page.check(`input[name="experience_level"][value="${ANSWERS.experience}"]`);
  await page.fill('input[name="budget"]', ANSWERS.budget);
  await page.selectOption('select[name="favorite_season"]', ANSWERS.season);
  await page.selectOption('select[name="country"]', 'CH');
  await page.fill('input[name="quiz_tent_nights"]', ANSWERS.tentNights);
  await page.fill('input[name="household_size"]', ANSWERS.household);
  await page.click('#quiz button[type="submit"]');
  await page.waitForSelector('#saved.ok');
}

/** Picks a campaign on the dashboard and waits until it is shown. */
async function showCampaign(page, id) {
  await page.waitForSelector('body[data-campaign]');
  if ((await page.getAttribute('body', 'data-campaign')) !== id) {
    await page.selectOption('#campaign', id);
    await page.waitForSelector(`body[data-campaign="${id}"]`);
  }
}

async function signIn(page) {
  await page.goto(demo.dashboard);
  // Not signed in: no "Sign out" (the hidden attribute wins over the button's display).
  assert.equal(await page.locator('#sign-out').isVisible(), false);
  await page.fill('#token', demo.token);
  await page.click('#sign-in-form button[type="submit"]');
  await page.waitForSelector('#app:not([hidden])');
}

test('a visitor answers the quiz, sees their segments and why, and their report is counted on the dashboard', async () => {
  const { context, page, errors } = await newPage();
  // The report may leave from any page once consent is given: its random time in the epoch
  // may already have passed, and then the engine's timer sends it at once.
  const before = reportPosts().length;
  await answerQuiz(page, { consent: true });
  await page.waitForSelector('#picks:not([hidden])');
  await page.screenshot({ path: join(shots, 'site-desktop.png'), fullPage: true });

  await page.goto(`${demo.site}/privacy.html`);
  await page.waitForSelector('#groups details');
  const hikers = page.locator('#groups details.segment', { hasText: 'campers' }).first();
  await hikers.locator(':scope > summary').click();
  const why = await hikers.innerText();
  assert.match(why, /You are among campers and paddlers, because:/);
  assert.match(why, /Your activities include kayaking/);
  // The rule as written is one click away, not in the sentences.
  assert.doesNotMatch(why, /has any/);
  await hikers.locator('details.rule summary').click();
  assert.match(await hikers.innerText(), /interests has any \["camping", "kayaking"\]/);
  // Every demo segment's explanation reads as sentences: no rule syntax, no identifiers.
  const sentences = await page.locator('#groups .reasons .visually').allTextContents();
  assert.ok(sentences.length > 20, `${sentences.length} sentences`);
  for (const t of sentences) assert.doesNotMatch(t, /==|>=|<=|\[|_|segment\(|“[a-z_]+ (has|in) /, t);
  // What is stored is named in the data map's words too.
  assert.match(await page.locator('#attributes').innerText(), /budget per trip for gear \(EUR\)/);
  const headings = await page.locator('#groups h3').allTextContents();
  assert.deepEqual(headings.sort(), ['Family gear', 'Picks for you', 'Spring collection']);

  // The visitor also allows personalisation and the campaign that reads sensitive data: every
  // demo campaign then reports, so the suite's leak check sees each one's reports.
  await page.check('#consent-personalization');
  await page.check('input[data-campaign="family-gear"]');
  await page.click('#send-now');
  await page.waitForFunction(() => window.dpsegEngine.sent().length >= 3 && window.dpsegEngine.pending().length === 0);
  const sent = await page.evaluate(() => window.dpsegEngine.sent());
  assert.ok(sent.every((s) => s.status === 200), JSON.stringify(sent));
  assert.ok(reportPosts().length > before);
  // The page shows the exact bytes it sent.
  const shown = await page.locator('#sent pre').allInnerTexts();
  assert.deepEqual(shown.sort(), sent.map((s) => s.body).sort());
  // Above the bytes, what each report said, in words, and the budget as a picture.
  const said = (await page.locator('#sent p').allInnerTexts()).join(' ');
  assert.match(said, /a deliberately randomised answer to (a yes\/no question about “[a-z ]+”|which of \d+ kinds of “[a-z ]+” you are)/);
  assert.ok(Number(await page.locator('#budget-meter').getAttribute('value')) > 0 || (await page.evaluate(() => document.querySelector('#budget-meter').value)) > 0);
  assert.match(await page.locator('#budget').innerText(), /never lets the total over the last 30 days go past its limit/);
  // What the click did, in words: the engine's own timer may have sent this period's reports a
  // moment before, and then the page says so rather than "Done."
  assert.match(await page.locator('#send-status').innerText(), /^(Sent (one request|\d+ requests) \(shown below\)|Nothing to send: this period's reports have already gone)\.$/);
  // Again: everything of this period has gone, and the page says so instead of "Done."
  await page.click('#send-now');
  await page.waitForFunction(() => /Nothing to send/.test(document.querySelector('#send-status').textContent));
  assert.equal(await page.evaluate(() => window.dpsegEngine.sent().length), sent.length);
  await page.screenshot({ path: join(shots, 'privacy-desktop.png'), fullPage: true });

  // The dashboard counts it in the current epoch of spring-2027.
  const dash = (await newPage()).page;
  await signIn(dash);
  await showCampaign(dash, 'spring-2027');
  const current = await dash.evaluate(async () => {
    const doc = await (await fetch('/v1/campaigns/spring-2027')).json();
    return Math.floor(Date.now() / 1000 / doc.epoch_secs);
  });
  await dash.selectOption('#epoch', String(current));
  await dash.waitForFunction(() => /report/.test(document.querySelector('#epoch-summary').textContent));
  assert.match(await dash.locator('#epoch-summary').innerText(), /: 1 report\b/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the dashboard shows estimates with intervals, marks the indistinguishable, reviews and plans', async () => {
  const { context, page, errors } = await newPage();
  await signIn(page);
  await showCampaign(page, 'spring-2027');
  const rows = await page.locator('#segments-table tbody tr').count();
  assert.equal(rows, 8);
  // A simulated epoch: thousands of reports, numbers with intervals.
  assert.match(await page.locator('#epoch-summary').innerText(), /[0-9,]{4,} reports/);
  const cells = await page.locator('#segments-table tbody td:nth-child(3)').allInnerTexts();
  assert.ok(cells.every((c) => /^[\d,]+ – [\d,]+$/.test(c)), cells.join('|'));
  assert.match(await page.locator('#mechanism').innerText(), /ε = 1/);
  assert.ok((await page.locator('#lint li').count()) >= 1);
  await page.fill('#plan-devices', '50000');
  await page.click('#plan-form button');
  assert.match(await page.locator('#plan-answer').innerText(), /With 50,000 devices an epoch at ε = 1, a 5\.0% segment \(2,500 visitors\) is estimated ±[\d,]+/);
  // An invalid question gets an inline error at once, never the last answer.
  await page.fill('#plan-devices', '0');
  await page.waitForSelector('#plan-answer[data-state="invalid"]');
  assert.doesNotMatch(await page.locator('#plan-answer').innerText(), /50,000/);
  assert.match(await page.locator('#plan-answer').innerText(), /^Check “/);
  await page.fill('#plan-devices', '50000');
  await page.waitForFunction(() => /With 50,000 devices/.test(document.querySelector('#plan-answer').textContent));
  // The live epoch has one report at most: its estimates cannot be told from zero.
  // Four simulated epochs and the live one, newest first, by their span; the live one says it
  // is still running.
  assert.equal(await page.locator('#epoch option').count(), 5);
  const options = await page.locator('#epoch option').allInnerTexts();
  assert.match(options[0], /^\d{1,2} [A-Z][a-z]{2} \(in progress\)$/);
  assert.ok(options.slice(1).every((o) => /^\d{1,2} [A-Z][a-z]{2}$/.test(o)), options.join(' | '));
  const seriesLabels = await page.evaluate(() => Chart.getChart(document.querySelector('#series-chart')).data.labels);
  assert.match(seriesLabels.at(-1), /\(in progress\), [\d,]+ reports so far$/);
  // A change between the last two finished epochs is called one only past the noise, in words.
  assert.match(await page.locator('#series-change').innerText(), /^hikers, \d{1,2} [A-Z][a-z]{2} to \d{1,2} [A-Z][a-z]{2}: (no change larger than the noise|(up|down) from [\d,]+ to [\d,]+, a change larger than the noise) \(/);
  await page.selectOption('#epoch', { index: 0 });
  assert.match(await page.locator('#segments-table tbody').innerText(), /indistinguishable from zero/);
  await page.selectOption('#epoch', { index: 1 });
  // A simulated epoch: each estimate as a share of the reporting visitors, descriptions beside
  // the ids, and low precision marked where the interval is wider than half the estimate.
  const table = await page.locator('#segments-table tbody').innerText();
  assert.match(table, /\d+\.\d% of reporting visitors/);
  assert.match(table, /Hikers with a mid or high budget/);
  const marked = await page.locator('#segments-table .pill.warn').count();
  const wide = await page.evaluate(() => [...document.querySelectorAll('#segments-table tbody tr')].filter((tr) => {
    const [lo, hi] = tr.children[2].textContent.split(' – ').map((t) => Number(t.replaceAll(',', '')));
    const est = Number((tr.children[1].querySelector('.stat')?.textContent ?? '').replaceAll(',', ''));
    return est > 0 && lo > 0 && (hi - lo) / 2 > 0.5 * est;
  }).length);
  assert.equal(marked, wide, 'every low-precision estimate is marked, and only those');
  // The table as CSV: a header and one row per segment.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.equal(csv[0], '"campaign","epoch","segment","description","estimate","ci_low","ci_high","reports","epoch_reports"');
  assert.equal(csv.length, 1 + rows);
  assert.match(csv[1], /^"spring-2027","\d+","hikers","Hikers with a mid or high budget",/);
  await page.screenshot({ path: join(shots, 'dashboard-desktop.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('with consent off, no report is sent', async () => {
  const { context, page } = await newPage();
  const start = requests.length;
  await answerQuiz(page, { consent: false });
  await page.goto(`${demo.site}/privacy.html`);
  await page.waitForSelector('#groups details');
  await page.click('#send-now');
  await page.waitForSelector('#send-status:not(:empty)');
  assert.match(await page.locator('#send-status').innerText(), /Nothing sent/);
  await page.evaluate(() => window.dpsegEngine.sendNow());
  assert.deepEqual(reportPosts(start), []);
  assert.deepEqual(await page.evaluate(() => window.dpsegEngine.sent()), []);
  await context.close();
});

test('Picked for you comes from the personalisation campaign and stops when personalisation is off; a sensitive campaign asks on its own', async () => {
  const { context, page } = await newPage();
  // "No thanks" to counting: the suggestions still come (personalisation is another choice).
  await answerQuiz(page, { consent: false });
  await page.waitForSelector('#picks:not([hidden])');
  assert.match(await page.locator('#picks-text').innerText(), /spring tent collection.*premium shells/);
  // The SDK, not just the page, refuses a measurement campaign's memberships for the page.
  const refused = await page.evaluate(() => {
    const codes = [];
    const off = window.dpsegEngine.on('error', (e) => codes.push(e.code));
    const m = window.dpsegEngine.memberships('spring-2027');
    off();
    return { m, codes };
  });
  assert.deepEqual(refused, { m: { segments: {}, groups: {} }, codes: ['not-for-personalization'] });

  await page.goto(`${demo.site}/privacy.html`);
  await page.waitForSelector('#groups details');
  assert.equal(await page.locator('#personalization-state').innerText(), 'Not chosen yet');
  // family-gear reads has_kids (children): its own switch, off until the visitor allows it.
  const family = page.locator('input[data-campaign="family-gear"]');
  assert.equal(await family.isChecked(), false);
  assert.match(await page.locator('#campaign-consent').innerText(), /has kids \(children\)/);
  await family.check();
  await page.waitForFunction(() => window.dpsegEngine.consent()['campaign:family-gear'] === true);
  // Personalisation on, then off: the switch says so, and the home page stops suggesting.
  await page.check('#consent-personalization');
  await page.waitForFunction(() => document.querySelector('#personalization-state').textContent === 'Allowed');
  await page.uncheck('#consent-personalization');
  await page.waitForFunction(() => document.querySelector('#personalization-state').textContent === 'Not allowed');
  await answerQuiz(page, { consent: false });
  await page.waitForSelector('#picks:not([hidden])');
  assert.match(await page.locator('#picks-text').innerText(), /turned personalised suggestions off/);
  assert.deepEqual(await page.evaluate(() => window.dpsegEngine.memberships('picks')), { segments: {}, groups: {} });
  await context.close();
});

test('an empty quiz stores nothing, and the consent notice is on every page of the site', async () => {
  const { context, page } = await newPage();
  await page.goto(`${demo.site}/`);
  await page.waitForSelector('body[data-ready="yes"]');
  assert.ok(await page.isVisible('#consent'), 'the notice on the home page');
  await page.click('#quiz button[type="submit"]');
  await page.waitForSelector('#saved.ok');
  // Only the observed first-visit time, in memory: no false "no kids", no empty interests.
  assert.deepEqual(Object.keys(await page.evaluate(() => window.dpsegEngine.profile().attributes)), ['first_visit_at']);
  assert.equal(await page.evaluate(() => localStorage.getItem('dpseg:profile')), null);
  await page.goto(`${demo.site}/shop.html`);
  await page.waitForSelector('#consent:not([hidden])');
  assert.match(await page.locator('#consent').innerText(), /at most one randomised\s+report per counting period/);
  await page.click('[data-consent="no"]');
  await page.goto(`${demo.site}/`);
  await page.waitForFunction(() => window.dpsegEngine !== undefined);
  assert.equal(await page.isVisible('#consent'), false, 'decided: not asked again');
  await context.close();
});

test('the quiz takes its number ranges from the data map and a number outside them saves nothing', async () => {
  const { context, page } = await newPage();
  await page.goto(`${demo.site}/`);
  await page.waitForSelector('body[data-ready="yes"]');
  // The question that feeds sensitive data says so where it is asked, with its purposes.
  const note = await page.locator('#has_kids-note').innerText();
  assert.match(note, /^Sensitive \(children\)\. Used only for: Recommendations on this site, worked out on your device; Counting how many visitors/);
  assert.equal(await page.getAttribute('input[name="has_kids"]', 'aria-describedby'), 'has_kids-note');
  const map = await page.evaluate(() => window.dpsegEngine.dataMap().attributes.budget);
  assert.deepEqual(
    [await page.getAttribute('input[name="budget"]', 'min'), await page.getAttribute('input[name="budget"]', 'max')],
    [String(map.min), String(map.max)],
  );
  for (const bad of ['-5', '99999']) {
    await page.check('input[name="interests"][value="hiking"]');
    await page.fill('input[name="budget"]', bad);
    await page.click('#quiz button[type="submit"]');
    await page.waitForSelector('#saved.no');
    assert.match(await page.locator('#saved').innerText(), /Budget for your next piece of gear \(€\) must be a number from 0 to 10000/);
    // Nothing of that answer is stored, not even the ticked interest.
    const attrs = await page.evaluate(() => window.dpsegEngine.profile().attributes);
    assert.deepEqual(Object.keys(attrs), ['first_visit_at'], JSON.stringify(attrs));
  }
  await page.fill('input[name="budget"]', '10000');
  await page.click('#quiz button[type="submit"]');
  await page.waitForSelector('#saved.ok');
  assert.equal(await page.evaluate(() => window.dpsegEngine.profile().attributes.budget), 10000);
  await context.close();
});

test('under Global Privacy Control the switch is off, cannot be turned on, and says why', async () => {
  const { context, page, errors } = await newPage(1200, { gpc: true });
  page.on('console', (m) => errors.push(`console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(`${demo.site}/privacy.html`);
  await page.waitForFunction(() => window.dpsegEngine !== undefined);
  await page.evaluate(() => window.dpsegEngine.setConsent('measurement', true));
  await page.reload();
  await page.waitForSelector('#gpc:not(:empty)', { timeout: 5000 }).catch((e) => {
    throw new Error(`${e.message}; page said: ${errors.join(' | ')}`);
  });
  const box = page.locator('#consent-measurement');
  assert.equal(await box.isChecked(), false);
  assert.equal(await box.isDisabled(), true);
  assert.match(await page.locator('#consent-state').innerText(), /your browser asks not to be tracked/);
  assert.doesNotMatch(await page.locator('#consent-state').innerText(), /^Allowed/);
  await context.close();
});

test('delete everything empties storage and nothing more is sent', async () => {
  const { context, page } = await newPage();
  await answerQuiz(page, { consent: true });
  await page.goto(`${demo.site}/privacy.html`);
  await page.waitForSelector('#groups details');
  // First a copy: the download holds the visitor's answers and what was sent, never the secret.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.equal(download.suggestedFilename(), 'my-data.json');
  const copy = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(copy.format, 'dpseg-export-1');
  assert.deepEqual([...copy.profile.attributes.interests].sort(), [...ANSWERS.interests].sort());
  assert.deepEqual(copy.sent.map((s) => s.body), await page.evaluate(() => window.dpsegEngine.sent().map((s) => s.body)));
  const device = await page.evaluate(() => localStorage.getItem('dpseg:device'));
  if (device) assert.ok(!JSON.stringify(copy).includes(device.slice(8, 40)), 'the device state was exported');
  assert.match(await page.locator('#download-status').innerText(), /^Downloaded my-data\.json/);
  assert.ok(await page.evaluate(() => localStorage.length) > 0);
  await page.click('#forget');
  await page.waitForSelector('#forget-status:not(:empty)');
  const start = requests.length;
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  await page.evaluate(() => window.dpsegEngine.sendNow());
  assert.deepEqual(reportPosts(start), []);
  assert.match(await page.locator('#attributes').innerText(), /Nothing stored/);
  await context.close();
});

test('works at 375 px and with the keyboard; every control has a label', async () => {
  const { context, page, errors } = await newPage(375);
  await page.goto(`${demo.site}/`);
  await page.waitForSelector('body[data-ready="yes"]');
  // Keyboard only: skip link, then tab to the consent button and press Enter.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  let found = false;
  for (let i = 0; i < 12 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.dataset.consent === 'yes');
  }
  assert.ok(found, 'the consent button is not reachable with Tab');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => window.dpsegEngine.consent().measurement), true);
  await answerQuiz(page, { consent: true }); // the banner is gone: consent was given above
  for (const [path, name] of [['/', 'site'], ['/privacy.html', 'privacy'], ['/dashboard/', 'dashboard']]) {
    await page.goto(`${demo.site}${path}`);
    if (name === 'dashboard') {
      await page.fill('#token', demo.token);
      await page.click('#sign-in-form button[type="submit"]');
      await page.waitForSelector('#app:not([hidden])');
      await showCampaign(page, 'spring-2027');
    } else {
      await page.waitForFunction(() => window.dpsegEngine !== undefined);
    }
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, button, textarea')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, [], `${name}: controls without a label`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 375, `${name} scrolls sideways at 375 px (${overflow})`);
    await page.screenshot({ path: join(shots, `${name}-mobile.png`), fullPage: true });
  }
  // "Add to cart" answers in the product's own card, where the visitor is looking.
  await page.goto(`${demo.site}/shop.html`);
  await page.waitForFunction(() => window.dpsegEngine !== undefined);
  const last = page.locator('article.product').last();
  await last.locator('button[data-do="cart"]').click();
  const feedback = last.locator('.feedback');
  assert.match(await feedback.innerText(), /is in your cart/);
  assert.ok(await feedback.isVisible() && (await feedback.boundingBox()).y < 900, 'the feedback is on screen');
  assert.deepEqual(errors, []);
  await context.close();
});

test('what a visitor transfers of the SDK: a first page and a later one (Chromium, compressed by the collector)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const open = new Map();
  let done = [];
  cdp.on('Network.responseReceived', (e) => {
    if (new URL(e.response.url).pathname.startsWith('/dpseg/')) {
      const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      open.set(e.requestId, { file: new URL(e.response.url).pathname.slice(7), encoding: h['content-encoding'] ?? 'identity', status: e.response.status });
    }
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = open.get(e.requestId);
    if (r) done.push({ ...r, bytes: e.encodedDataLength });
  });
  const visit = async (path) => {
    done = [];
    await page.goto(`${demo.site}${path}`);
    await page.waitForFunction(() => window.dpsegEngine?.campaigns().length === 3);
    const files = done.filter((r) => /\.(js|wasm)$/.test(r.file));
    return { files, total: files.reduce((a, r) => a + r.bytes, 0) };
  };
  const first = await visit('/');
  const later = await visit('/shop.html');
  const line = (v) => v.files.map((r) => `${r.file} ${r.bytes} B (${r.encoding}, ${r.status})`).join(', ');
  console.log(`SDK transferred (response headers and bodies), first page: ${first.total} B [${line(first)}]; later page: ${later.total} B [${line(later)}]`);
  // Every SDK file of the first page came compressed, and no page needed the verifier: the
  // check module checks the compiled campaigns on the first page, and a later one needs neither.
  assert.ok(first.files.length >= 2, line(first));
  for (const r of first.files) assert.notEqual(r.encoding, 'identity', `${r.file} was sent uncompressed`);
  for (const v of [first, later]) assert.ok(!v.files.some((r) => /^dpseg_(verify|core)/.test(r.file)), `the verifier was fetched: ${line(v)}`);
  assert.ok(first.files.some((r) => r.file === 'dpseg_check_bg.wasm'), line(first));
  assert.ok(!later.files.some((r) => r.file.startsWith('dpseg_check')), `a later page checked again: ${line(later)}`);
  // The first visit's weight as the budget counts it: gzip -9 of every JS and wasm file fetched.
  const gz = (file) => gzipSync(readFileSync(join(pkgDir, file)), { level: 9 }).length;
  const weight = first.files.reduce((a, r) => a + gz(r.file), 0);
  console.log(`first visit, gzip -9 of what the page fetched: ${weight} B [${first.files.map((r) => `${r.file} ${gz(r.file)} B`).join(', ')}] (budget ${FIRST_VISIT_BUDGET} B)`);
  assert.ok(weight <= FIRST_VISIT_BUDGET, `the first visit loads ${weight} B of SDK, over its budget of ${FIRST_VISIT_BUDGET} B`);
  assert.ok(later.total < first.total / 3, `${later.total} B on a later page`);
  // The package's names carry no content hash, so the collector says `no-cache`: a later page
  // revalidates every file (a 304 of a few header bytes, no body) rather than trusting a
  // guessed freshness, which would show as 0 B here.
  for (const r of later.files) assert.ok(r.bytes > 0 && r.bytes < 1024, `${r.file}: ${r.bytes} B`);
  await context.close();
});

test('no request body of the whole suite contains a raw profile value', () => {
  const bodies = requests.map((r) => r.body).filter(Boolean);
  // Reports of every demo campaign (one request per campaign).
  const reports = reportPosts().reduce((n, r) => n + JSON.parse(r.body).length, 0);
  assert.ok(reports >= 3, `the suite sent too few reports to check (${reports})`);
  const campaigns = new Set(reportPosts().flatMap((r) => JSON.parse(r.body).map((x) => x.campaign)));
  assert.deepEqual([...campaigns].sort(), ['family-gear', 'picks', 'spring-2027']);
  for (const body of bodies) for (const v of RAW) assert.ok(!body.includes(v), `a request body contains ${v}: ${body}`);
});
