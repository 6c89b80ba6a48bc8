// The size budget: what every page of a site loads — the runtime module's wasm and the
// SDK module (SDK and the runtime's glue, bundled and minified) — after `gzip -9` (the gzip
// program, as the budget says) is at most 40 KB. The modules imported on demand are printed but
// not counted (ARCHITECTURE "Browser modules"): the check module for a campaign version new to
// the device, the report module when a report is due (at most once per campaign and epoch) or
// the ledger is shown, the verify-only build for a data map given as JSON text, the full one with
// the tools' JS for explanations in words and the tools. The first visit as a whole is measured
// in Chromium by www/tests/e2e.test.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pkg } from './harness.js';

const BUDGET_BYTES = 40 * 1024;

test('what every page loads is at most 40 KB gzipped', () => {
  const gz = (name) => execFileSync('gzip', ['-9c', join(pkg, name)], { maxBuffer: 1 << 26 }).length;
  const wasm = gz('dpseg_rt_bg.wasm');
  const js = gz('dpseg.js');
  const page = wasm + js;
  const check = gz('dpseg_check_bg.wasm') + gz('dpseg_check.js') + gz('dpseg_checking.js');
  const report = gz('dpseg_report_bg.wasm') + gz('dpseg_report.js') + gz('dpseg_reporting.js');
  const verifier = gz('dpseg_verify_bg.wasm') + gz('dpseg_verify.js') + gz('dpseg_verifying.js');
  const tools = gz('dpseg_core_bg.wasm') + gz('dpseg_core.js') + gz('dpseg_tools.js');
  console.log(
    `every page: runtime wasm ${wasm} B + JS ${js} B = ${page} B gzipped (budget ${BUDGET_BYTES} B); ` +
      `on demand: check module ${check} B, report module ${report} B, verifier ${verifier} B, tools ${tools} B`,
  );
  assert.ok(page <= BUDGET_BYTES, `what a page loads is ${page} B gzipped, over the budget of ${BUDGET_BYTES} B`);
});
