// The tools of the dpseg SDK — lint, the planner, rule and profile tools — as their own entry
// (`import { loadTools, lint, plan, tools } from 'dpseg/tools'`, the file dpseg_tools.js), for
// rule editors, dashboards and the spec suite. A visitor's page does not load this code: dpseg.js
// imports it only to explain a segment in words. `loadTools()` loads the full module
// (dpseg_core, the whole engine with the tools) and must be awaited before the rest.

import { DpsegError, internals, load } from './dpseg.js';

const { Runtime, guard, text, num, optNum, optStr, importModule, setCore } = internals;

let loading = null;
/** The full module's exports, once loaded. */
let core = null;
/** The check module's exports, loaded with it (`checkOnDevice`). */
let check = null;

/**
 * Loads the full module once (and the runtime, if not yet); resolves to its exports. `source`
 * is what wasm-bindgen's init accepts (URL, Response, bytes, module); by default
 * `dpseg_core_bg.wasm` next to dpseg.js (or `open({tools})` / `load(…, {tools})`'s).
 */
export function loadTools(source) {
  loading ??= Promise.all([
    load(undefined, { tools: source }),
    importModule(() => import('./dpseg_core.js'), 'tools', 'tools'),
    importModule(() => import('./dpseg_check.js'), 'check', 'check'),
  ])
    .then(([, m, c]) => {
      core = m;
      check = c;
      setCore(m); // the engine verifies with it from now on, instead of loading the verify-only build
      return m;
    })
    .catch((e) => {
      loading = null;
      throw e;
    });
  return loading;
}

function loaded() {
  if (!core) throw new DpsegError('not-loaded', 'call and await loadTools() before using lint, plan or tools');
  return core;
}

/**
 * A runtime for a data map (JSON form) as a device opens it: the compact form and its
 * `schema_id`, with caps that never bind.
 */
function runtimeFor(schema) {
  const compact = guard(() => loaded().compactSchema(text(schema)));
  return guard(() => new Runtime(compact, loaded().contentId(compact)));
}

/** Lints a campaign (JSON form) against a data map (JSON form): `[{code, severity, ...}]`. */
export function lint(schema, campaign, { epsilonMax, devices, limits } = {}) {
  const [s, c] = [text(schema), text(campaign)];
  return JSON.parse(guard(() => loaded().lint(s, c, optNum(epsilonMax), optNum(devices), limits && text(limits))));
}

/**
 * The planner: expected ±95% half-width per segment and group of a campaign (JSON form or
 * collector document) with `devices` reporting devices an epoch, for a value held by `rate` of
 * them, optionally at another ε per report.
 */
export function plan(campaign, { devices, rate = 0.05, epsilon } = {}) {
  const c = text(campaign);
  return JSON.parse(guard(() => loaded().planCampaign(c, num(devices), num(rate), optNum(epsilon))));
}

/** Tools for rule editors and the spec suite; each throws DpsegError with `details.at`/`path`. */
export const tools = {
  parseRule: (rule, limits) => JSON.parse(guard(() => loaded().parseRule(String(rule), limits && text(limits)))),
  checkRule: (schema, { rule, ast }, profile, now, limits) =>
    guard(() =>
      loaded().checkRule(text(schema), optStr(rule), ast === undefined ? undefined : text(ast), text(profile), String(now), limits && text(limits)),
    ),
  printRule: ({ rule, ast }, limits) =>
    guard(() => loaded().printRule(optStr(rule), ast === undefined ? undefined : text(ast), limits && text(limits))),
  evaluateCampaign: (schema, campaign, profile, now, limits) =>
    JSON.parse(guard(() => loaded().evaluateCampaign(text(schema), text(campaign), text(profile), String(now), limits && text(limits)))),
  /**
   * As `evaluateCampaign`, but evaluated by the runtime module, exactly as a device does: the
   * verifier compiles the campaign, the runtime loads it with the profile and evaluates at
   * `now` (RFC 3339). What a device checks before it runs a campaign is `checkOnDevice`'s.
   */
  evaluateOnDevice: (schema, campaign, profile, now) => {
    const c = typeof campaign === 'string' ? JSON.parse(campaign) : campaign;
    const bytes = guard(() => loaded().compileRunnable(text(schema), text(c)));
    const ms = Date.parse(now);
    const device = runtimeFor(schema);
    try {
      guard(() => device.importProfile(typeof profile === 'string' ? JSON.parse(profile) : profile, ms));
      const flat = guard(() => device.evaluate(device.loadRunnable(bytes)[0], ms));
      const segments = {};
      const groups = {};
      (c.segments ?? []).forEach((s, i) => {
        segments[s.id] = flat[i] === 1;
      });
      (c.groups ?? []).forEach((g, i) => {
        const v = flat[(c.segments ?? []).length + i];
        groups[g.id] = g.cases[v]?.id ?? null; // the number of cases: none
      });
      return { segments, groups };
    } finally {
      device.free();
    }
  },
  /**
   * Compiles a campaign (JSON form) and checks it with the check module against the data map
   * under a cap of `epsilonMax` per report and per window, as a device checks a campaign before
   * it runs it (docs/compiled.md). Throws the check's refusal (`purpose-mismatch`,
   * `sensitive-without-review`, `over-report-cap`, ...).
   */
  checkOnDevice: (schema, campaign, { epsilonMax = 1e300 } = {}) => {
    const bytes = guard(() => loaded().compileRunnable(text(schema), text(campaign)));
    const compact = guard(() => loaded().compactSchema(text(schema)));
    guard(() => check.check(compact, loaded().contentId(compact), bytes, num(epsilonMax), num(epsilonMax)));
  },
  /**
   * As `checkProfile` (a profile as a JSON value, default limits), checked by the runtime
   * module as a device checks what it stores.
   */
  checkProfileOnDevice: (schema, profile, now) => {
    const device = runtimeFor(schema);
    try {
      guard(() => device.importProfile(profile, Date.parse(now)));
    } finally {
      device.free();
    }
  },
  checkProfile: (schema, profile, now, limits) =>
    guard(() => loaded().checkProfile(text(schema), text(profile), String(now), limits && text(limits))),
};
