// Shared by the Node and browser tests: paths, the built package, and the real collector binary.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const pkg = join(root, 'crates', 'wasm', 'pkg');
export const specDir = join(root, 'tests', 'spec');
export const outdoor = join(root, 'examples', 'outdoor');

/** The spec files as `[{name, doc}]`, sorted by name. */
export function specFiles() {
  return readdirSync(specDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, doc: JSON.parse(readFileSync(join(specDir, name), 'utf8')) }));
}

/**
 * The package's module and its tools entry as one object, with the wasm loaded from bytes (Node
 * has no fetch of file URLs).
 */
export async function loadPackage() {
  const dpseg = await import(join(pkg, 'dpseg.js'));
  const wasm = (name) => readFileSync(join(pkg, name));
  await dpseg.load(wasm('dpseg_rt_bg.wasm'), {
    report: wasm('dpseg_report_bg.wasm'),
    check: wasm('dpseg_check_bg.wasm'),
    verifier: wasm('dpseg_verify_bg.wasm'),
    tools: wasm('dpseg_core_bg.wasm'),
  });
  const tools = await import(join(pkg, 'dpseg_tools.js'));
  await tools.loadTools(); // the spec suite, lint and the planner are tools
  return { ...dpseg, ...tools };
}

export const TOKEN = 'test-token-not-secret';

/**
 * Starts the real collector (`target/release/dpseg serve`) on a free port with a fresh SQLite
 * file, the outdoor example's data map and campaigns (or those of `campaigns`), and the given
 * static directories.
 * Resolves to `{url, stop()}` once it listens.
 */
export function startCollector({ statics = [], campaigns = join(outdoor, 'campaigns') } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dpseg-js-'));
  const bin = join(root, 'target', 'release', 'dpseg');
  const args = [
    'serve',
    '--campaigns', campaigns,
    '--schema', join(outdoor, 'schema.toml'),
    '--db', `sqlite:${join(dir, 'collector.db')}`,
    '--listen', '127.0.0.1:0',
    '--token', TOKEN,
    ...statics.flatMap((s) => ['--static', s]),
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /serving \d+ campaign\(s\) on (http:\/\/\S+) \(/.exec(log);
      if (m) {
        resolve({
          url: m[1],
          log: () => log,
          stop: () =>
            new Promise((done) => {
              child.once('exit', () => {
                rmSync(dir, { recursive: true, force: true });
                done();
              });
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}:\n${log}`)));
    child.once('error', reject);
  });
}

/** The collector's estimates for a campaign (all epochs). */
export async function estimates(url, campaign) {
  const res = await fetch(`${url}/v1/campaigns/${campaign}/estimates`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  if (!res.ok) throw new Error(`estimates: ${res.status}`);
  return res.json();
}

/** A wire golden file (`tests/spec/wire/NAME.json`). */
export function golden(name) {
  return JSON.parse(readFileSync(join(root, 'tests', 'spec', 'wire', `${name}.json`), 'utf8'));
}

/**
 * Throws unless `real` has the golden file's shape: the rule of `dpseg::wire::fits_shape`
 * (tests/spec/wire/README.md), so the Rust and JS tests hold the package to the same files.
 */
export function fitsShape(gold, real, path = '$', kind = 'struct') {
  const type = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (real === null) return;
  if (type(gold) !== type(real)) throw new Error(`${path}: ${JSON.stringify(real)} is not of the golden's type (${JSON.stringify(gold)})`);
  if (Array.isArray(real)) {
    real.forEach((v, i) => {
      const errors = [];
      for (const example of gold) {
        try {
          fitsShape(example, v, `${path}[${i}]`);
          return;
        } catch (e) {
          errors.push(e);
        }
      }
      throw errors[0] ?? new Error(`${path}[${i}]: the golden array is empty`);
    });
    return;
  }
  if (type(real) !== 'object') return;
  if (kind !== 'struct') {
    const first = Object.values(gold)[0];
    if (first === undefined && Object.keys(real).length) throw new Error(`${path}: the golden map is empty`);
    for (const [k, v] of Object.entries(real)) fitsShape(first, v, `${path}.${k}`, kind === 'mapOfMaps' ? 'map' : 'struct');
    return;
  }
  for (const [k, v] of Object.entries(real)) {
    if (!(k in gold)) throw new Error(`${path}.${k}: a field the golden file does not have`);
    const isObject = type(v) === 'object';
    const inner = k === 'groups' && isObject ? 'mapOfMaps' : (k === 'segments' || k === 'stale_config_reports') && isObject ? 'map' : 'struct';
    fitsShape(gold[k], v, `${path}.${k}`, inner);
  }
}
