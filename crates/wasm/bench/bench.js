// Benchmark of the browser package from JS: the benchmark campaign (133 segments, a 9-case
// group) on a profile with 50 attributes and 500 events, evaluated inside wasm, against
// json-logic-js and json-logic-engine (compiled) evaluating the same rules written as JsonLogic
// on the same profile, in the same run. Also one segment alone, and making one report (the
// runtime's answers through the report module).
//
//   node crates/wasm/bench/bench.js        (after scripts/build-wasm.sh; `npm ci` for the peers)
//
// Prints a table: time per call (median of 7 timed runs) and dpseg's speed-up over each peer.

import jsonLogic from 'json-logic-js';
import { LogicEngine } from 'json-logic-engine';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadPackage, startCollector, outdoor, pkg } from '../tests/harness.js';
import { toJsonLogic, toJsonLogicData } from './jsonlogic.js';

const NOW_MS = Date.parse('2026-11-24T00:00:00Z');
const NOW = NOW_MS / 1000;
const DAY = 86_400;

/** A small seeded generator (mulberry32): the same profile on every run. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The shape of tests/common's heavy_profile: every attribute set, `n` events over a year. */
function heavyProfile(schema, n, seed) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const iso = (secs) => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const attributes = {};
  for (const [name, a] of Object.entries(schema.attributes)) {
    attributes[name] = {
      // Within the data map's range, as heavy_profile does.
      number: () => (a.min ?? 0) + Math.floor(r() * ((a.max ?? 800) - (a.min ?? 0))),
      string: () => (a.values ? pick(a.values) : pick(['DE', 'at', 'Ch', 'fr', 'US'])),
      bool: () => r() < 0.5,
      set: () => (a.values ? a.values.filter(() => r() < 0.4) : ['Alpenglow', 'Summit']),
      time: () => iso(NOW - Math.floor(r() * 900) * DAY),
    }[a.type]();
  }
  const cats = ['tents', 'boots', 'jackets', 'packs', 'stoves', 'bags', 'poles', 'lamps'];
  const kinds = Object.entries(schema.events);
  const events = [];
  for (let i = 0; i < n; i++) {
    const [name, def] = kinds[i % kinds.length];
    const keepDays = Math.min(365, def.retention ? parseInt(def.retention, 10) * ({ d: 1, w: 7 }[def.retention.slice(-1)] ?? 1) : 365);
    const at = NOW - Math.floor(r() * keepDays * DAY);
    const props = {};
    for (const [p, ty] of Object.entries(def.props ?? {})) {
      props[p] =
        ty === 'number' ? 1 + Math.floor(r() * 399)
        : ty === 'bool' ? r() < 0.5
        : p === 'category' ? pick(cats)
        : p === 'brand' ? pick(['Alpenglow', 'Summit', 'Alpine Co'])
        : p === 'topic' ? `t${Math.floor(r() * 8)}`
        : ty === 'string' ? `v${Math.floor(r() * 20)}`
        : iso(at);
    }
    events.push({ name, at: iso(at), props });
  }
  return { attributes, events };
}

/** Median nanoseconds per call of `f` over 7 runs of at least 200 ms each. */
function time(f) {
  for (let i = 0; i < 200; i++) f(); // warm up the JITs
  let per = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < per; i++) f();
    if (Number(process.hrtime.bigint() - t0) > 20e6) break;
    per *= 2;
  }
  per *= 10;
  const runs = [];
  for (let k = 0; k < 7; k++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < per; i++) f();
    runs.push(Number(process.hrtime.bigint() - t0) / per);
  }
  return runs.sort((a, b) => a - b)[3];
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

const dpseg = await loadPackage();
const collector = await startCollector({ campaigns: join(outdoor, 'benchmark') });
try {
  const schema = await (await fetch(`${collector.url}/v1/schema`)).json();
  // The benchmark campaign is a measurement campaign: the page may use it here because the
  // bench says so (`personalize`) and consents, so the timed path is the page's real one.
  const engine = await dpseg.open({ schema, storage: 'memory', autoSchedule: false, now: () => NOW_MS, personalize: ['measurement'] });
  engine.setConsent('measurement', true);
  const generated = heavyProfile(schema, 500, 7);
  for (const [k, v] of Object.entries(generated.attributes)) engine.set(k, v);
  for (const e of generated.events) engine.track(e.name, e.props, e.at);
  const profile = engine.profile(); // after retention: both sides see the same events
  const data = toJsonLogicData(profile);
  const lower = (s) => (typeof s === 'string' ? s.toLowerCase() : null);
  jsonLogic.add_operation('lower', lower);
  const logicEngine = new LogicEngine();
  logicEngine.addMethod('lower', ([s]) => lower(s), { deterministic: true });

  /** One campaign: loaded from the collector, translated, checked to agree, then timed whole. */
  const benchCampaign = async (id) => {
    const doc = await (await fetch(`${collector.url}/v1/campaigns/${id}`)).json();
    const info = await engine.addCampaign(doc);
    const trees = new Map(doc.segments.map((s) => [s.id, dpseg.tools.parseRule(s.rule)]));
    const rules = doc.segments.map((s) => toJsonLogic(trees.get(s.id), NOW, (ref) => trees.get(ref)));
    const compiled = rules.map((r) => logicEngine.build(r));
    // The translation must mean the same: every segment agrees before anything is timed.
    const ours = engine.memberships(id).segments;
    const ids = doc.segments.map((s) => s.id);
    const disagree = [];
    ids.forEach((sid, i) => {
      const a = !!jsonLogic.apply(rules[i], data);
      const b = !!compiled[i](data);
      if (a !== ours[sid] || b !== ours[sid]) disagree.push(`${sid}: dpseg ${ours[sid]}, json-logic-js ${a}, json-logic-engine ${b}`);
    });
    if (disagree.length) {
      console.error(`${id}: the JsonLogic translation disagrees on ${disagree.length} segments:\n${disagree.join('\n')}`);
      process.exit(1);
    }
    const members = Object.values(ours).filter(Boolean).length;
    console.log(`campaign ${id}: ${info.segments.length} segments, ${info.groups.length} group(s); profile: ${Object.keys(profile.attributes).length} attributes, ${profile.events.length} events; ${members} memberships, all ${ids.length} agree across the three engines`);
    const all = {
      dpseg: time(() => engine.evaluate(id)),
      'json-logic-js': time(() => {
        for (let i = 0; i < rules.length; i++) jsonLogic.apply(rules[i], data);
      }),
      'json-logic-engine (compiled)': time(() => {
        for (let i = 0; i < compiled.length; i++) compiled[i](data);
      }),
    };
    return { doc, ids, rules, compiled, all };
  };
  const bench = await benchCampaign('benchmark');
  const filters = await benchCampaign('filters');
  console.log('');
  const { doc, ids, rules, compiled } = bench;
  // One segment: the first (attribute rule) and an event-window one.
  const single = (index) => ({
    dpseg: time(() => engine.inSegment('benchmark', ids[index])),
    'json-logic-js': time(() => jsonLogic.apply(rules[index], data)),
    'json-logic-engine (compiled)': time(() => compiled[index](data)),
  });
  const windowIndex = doc.segments.findIndex((s) => s.rule.startsWith('count('));
  const one = single(0);
  const oneWindow = single(windowIndex);

  // Making one report as the SDK does when one is due: the report module (which read the
  // campaign's head and mechanism once, as the SDK's does) asks the runtime for the true value
  // of the items this device samples only, privatizes, encodes and records the spend in the
  // device state it is given. A device reports once per campaign and epoch, so each timed call
  // starts from the same empty ledger.
  const reporting = await import(join(pkg, 'dpseg_report.js'));
  await reporting.default({ module_or_path: readFileSync(join(pkg, 'dpseg_report_bg.wasm')) });
  const reporter = new reporting.Reporter(2, 8);
  const { handle, runnable } = engine.handles.get('benchmark');
  const campaign = reporter.load(Buffer.from(runnable, 'base64'));
  const truth = (item) => engine.rt.itemTruth(handle, item, NOW_MS);
  const fresh = reporting.newDevice();
  const samples = [];
  let bytes = 0;
  // The first 8,000 are warm-up (V8 tiers wasm functions up as they get hot).
  for (let i = 0; i < 11000; i++) {
    const t0 = process.hrtime.bigint();
    bytes = reporter.report(campaign, fresh, truth, NOW_MS).body.length;
    if (i >= 8000) samples.push(Number(process.hrtime.bigint() - t0));
  }
  const report = samples.sort((a, b) => a - b)[samples.length >> 1];

  const row = (what, results) => {
    const base = results.dpseg;
    for (const [name, ns] of Object.entries(results)) {
      const vs = name === 'dpseg' ? '' : `dpseg ${(ns / base).toFixed(1)}× faster`;
      console.log(`${what.padEnd(34)} ${name.padEnd(30)} ${fmt(ns).padStart(10)}  ${vs}`);
    }
  };
  row(`benchmark: all ${ids.length} segments`, bench.all);
  row(`filters: all ${filters.ids.length} segments`, filters.all);
  row(`one segment: ${ids[0]}`, one);
  row(`one segment: ${ids[windowIndex]}`, oneWindow);
  console.log(`${'one report (sampled items + privatize)'.padEnd(34)} ${'dpseg'.padEnd(30)} ${fmt(report).padStart(10)}  (${bytes} bytes of JSON; median of ${samples.length})`);
} finally {
  await collector.stop();
}
