// The Vite recipe of the package README ("Deploying"): a page that imports the package is
// bundled by Vite, served by the collector, and run in headless Chromium. Vite gives every file
// (the SDK's chunks and its wasm modules) a content-hashed name.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { chromium } from 'playwright-core';
import { pkg, startCollector } from './harness.js';

const CHROMIUM = process.env.DPSEG_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);

let dir;
let collector;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpseg-vite-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><p id="out"></p><script type="module" src="/main.js"></script>\n');
  writeFileSync(
    join(dir, 'main.js'),
    `import { open } from 'dpseg';
const engine = await open({ collector: location.origin });
await engine.loadCampaign('spring-2027');
engine.set('budget', 150);
engine.set('interests', ['hiking']);
window.result = { memberships: engine.membershipsForVisitor('spring-2027'), explained: (await engine.explain('spring-2027', 'hikers')).holds };
`,
  );
  await build({
    root: dir,
    logLevel: 'warn',
    resolve: { alias: { dpseg: join(pkg, 'dpseg.js') } },
    build: { outDir: join(dir, 'dist'), target: 'es2022', emptyOutDir: true },
  });
  collector = await startCollector({ statics: [`/=${join(dir, 'dist')}`] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  await collector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a page bundled with Vite runs the engine, every asset with a content-hashed name', async () => {
  const assets = readdirSync(join(dir, 'dist', 'assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.ok(wasm.length >= 3, `wasm modules emitted: ${assets}`);
  for (const f of assets) assert.match(f, /-[A-Za-z0-9_-]{8}\.(js|wasm)$/, `not content-hashed: ${f}`);
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${collector.url}/index.html`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 });
  const result = await page.evaluate(() => window.result);
  assert.equal(result.memberships.segments.hikers, true);
  assert.equal(result.explained, true);
  assert.deepEqual(errors, []);
});
