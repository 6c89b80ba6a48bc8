// Runs the spec suite (tests/spec/*.json, format in tests/spec/README.md) through the built
// package's public API. The same module runs in Node (node.test.js) and in headless Chromium
// (browser.test.js); it mirrors tests/suite/spec.rs case for case.

function deepEqual(a, b) {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  }
  return v;
}

/** Calls `f`; returns `{ok: value}` or `{err: DpsegError}` (other throws propagate). */
function attempt(dpseg, f) {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof dpseg.DpsegError) return { err: e };
    throw e;
  }
}

/**
 * As in tests/suite/spec.rs: the runtime, checking the compiled campaign as a device does,
 * refuses exactly the campaigns whose lint has an error about data or ε, with that code.
 */
function deviceAgreesWithLint(dpseg, schema, c, findings) {
  const compiles = attempt(dpseg, () => dpseg.tools.evaluateCampaign(schema, c.campaign, {}, c.now ?? '2026-11-24T00:00:00Z'));
  if (compiles.err || c.limits !== undefined) return null;
  const codes = findings
    .filter((f) => f.severity === 'error' && ['purpose-mismatch', 'sensitive-without-review', 'epsilon-over-cap'].includes(f.code))
    .map((f) => f.code);
  const r = attempt(dpseg, () => dpseg.tools.checkOnDevice(schema, c.campaign, { epsilonMax: c.lint_config?.epsilon_max ?? 2 }));
  const code = { 'over-report-cap': 'epsilon-over-cap', 'over-window-cap': 'epsilon-over-cap' }[r.err?.code] ?? r.err?.code;
  if (r.err === undefined && codes.length === 0) return null;
  if (r.err && (codes.includes(code) || (code === 'campaign-empty' && codes.length === 0))) return null;
  return `the runtime's check gives ${r.err?.code ?? 'ok'}, lint's errors ${JSON.stringify(codes)}`;
}

function runCase(dpseg, doc, c) {
  const now = c.now ?? doc.now;
  const limits = c.limits;
  const schema = doc.schema;
  const expectError = c.error;
  const profileDoc = () => {
    if (c.profile_doc !== undefined) return c.profile_doc;
    if (c.profile !== undefined) {
      if (!(c.profile in doc.profiles)) throw new Error(`no profile ${c.profile}`);
      return doc.profiles[c.profile];
    }
    return {};
  };

  // A profile that must be refused.
  if (c.profile_doc !== undefined && expectError !== undefined && c.rule === undefined) {
    const r = attempt(dpseg, () => dpseg.tools.checkProfile(schema, c.profile_doc, now, limits));
    if (r.err === undefined) return 'profile was accepted';
    const path = r.err.details?.path;
    const wantPath = c.path ?? path;
    if (r.err.code !== expectError || path !== wantPath) return `got ${r.err.code} at ${path}`;
    // The runtime module checks a stored profile with the same code, given it as a JS value
    // (so a document too large as text, or not JSON at all, is the verifier's case only).
    // The data map's number ranges are not in the runtime's compact data map: in the browser the
    // SDK checks them in `set` (node.test.js, "a number outside the data map's range").
    if (limits !== undefined || typeof c.profile_doc === 'string' || expectError === 'profile-too-large' || expectError === 'out-of-range') return null;
    const d = attempt(dpseg, () => dpseg.tools.checkProfileOnDevice(schema, c.profile_doc, now));
    if (d.err === undefined) return 'the runtime accepted the profile';
    return d.err.code === expectError && d.err.details?.path === wantPath ? null : `runtime got ${d.err.code} at ${d.err.details?.path}`;
  }

  if (c.campaign !== undefined) {
    if (c.lint !== undefined) {
      const r = attempt(dpseg, () =>
        dpseg.lint(schema, c.campaign, {
          epsilonMax: c.lint_config?.epsilon_max,
          devices: c.lint_config?.devices,
          limits,
        }),
      );
      if (r.err) return r.err.code === expectError ? null : `campaign refused: ${r.err.code} (${r.err.message})`;
      const got = r.ok.map((f) => {
        const v = { code: f.code, severity: f.severity };
        if (f.segment !== undefined) v.segment = f.segment;
        if (f.line !== undefined && f.column !== undefined) v.at = `${f.line}:${f.column}`;
        return v;
      });
      const unmatched = [...got];
      for (const w of c.lint) {
        const i = unmatched.findIndex((g) => Object.entries(w).every(([k, v]) => deepEqual(g[k], v)));
        if (i < 0) return `missing finding ${JSON.stringify(w)}; got ${JSON.stringify(got)}`;
        unmatched.splice(i, 1);
      }
      if (unmatched.length !== 0) return `unexpected findings ${JSON.stringify(unmatched)}`;
      return deviceAgreesWithLint(dpseg, schema, c, got);
    }
    const r = attempt(dpseg, () => dpseg.tools.evaluateCampaign(schema, c.campaign, profileDoc(), now, limits));
    if (r.err) {
      const e = r.err;
      const ok =
        e.code === expectError &&
        (c.at === undefined || c.at === e.details?.at) &&
        (c.segment === undefined || c.segment === e.details?.segment);
      return ok ? null : `got ${e.code} at ${e.details?.at} in ${e.details?.segment}: ${e.message}`;
    }
    if (expectError !== undefined) return 'campaign compiled';
    if (!deepEqual(r.ok, c.expect)) return `got ${JSON.stringify(r.ok)}`;
    // A device runs only campaigns with something to report (the runtime refuses an empty one),
    // and only under the default limits.
    const empty = (c.campaign.segments ?? []).length + (c.campaign.groups ?? []).length === 0;
    if (limits !== undefined || empty) return null;
    // The same campaign as a device runs it: compact form, evaluated by the runtime module.
    const d = attempt(dpseg, () => dpseg.tools.evaluateOnDevice(schema, c.campaign, profileDoc(), now));
    if (d.err) return `runtime refused: ${d.err.code}: ${d.err.message}`;
    return deepEqual(d.ok, c.expect) ? null : `runtime got ${JSON.stringify(d.ok)}`;
  }

  // A single rule, as text or as the JSON tree.
  const rule = c.ast !== undefined ? { ast: c.ast } : { rule: c.rule };
  if (c.ast === undefined && c.rule === undefined) return 'case has no rule, ast, campaign or profile_doc';
  const printed = attempt(dpseg, () => dpseg.tools.printRule(rule, limits));
  if (printed.err && printed.err.code === 'ast-syntax') {
    return expectError === 'ast-syntax' ? null : `ast refused: ${printed.err.message}`;
  }
  if (printed.ok !== undefined) {
    if (c.canonical !== undefined && printed.ok !== c.canonical) return `prints as ${JSON.stringify(printed.ok)}`;
    if (c.ast === undefined) {
      const bigLimits = { ...(limits ?? {}), rule_bytes_max: 1e9 };
      const again = attempt(dpseg, () => dpseg.tools.printRule({ rule: printed.ok }, bigLimits));
      if (again.ok !== printed.ok) return `canonical text ${JSON.stringify(printed.ok)} does not print back to itself`;
    }
  }
  const r = attempt(dpseg, () => dpseg.tools.checkRule(schema, rule, profileDoc(), now, limits));
  if (r.err) {
    const e = r.err;
    if (e.details?.path !== undefined) {
      // The rule compiled; the profile was refused.
      if (expectError !== undefined && e.code === expectError) return null;
      return `profile refused: ${e.code} at ${e.details.path}`;
    }
    if (expectError === undefined) return `rule refused: ${e.code} at ${e.details?.at}: ${e.message}`;
    return e.code === expectError && (c.at === undefined || c.at === e.details?.at) ? null : `got ${e.code} at ${e.details?.at}`;
  }
  if (expectError !== undefined) {
    return c.profile_doc === undefined ? `rule compiled; expected ${expectError}` : `profile accepted; expected ${expectError}`;
  }
  if (r.ok !== c.expect) return `evaluated to ${r.ok}`;
  if (c.rule === undefined || limits !== undefined) return null;
  // The same rule as a device runs it: a one-segment campaign evaluated by the runtime module.
  const campaign = { id: 'spec', purpose: 'spec', epoch: '1d', epsilon: 1, segments: [{ id: 'rule', rule: c.rule }] };
  const d = attempt(dpseg, () => dpseg.tools.evaluateOnDevice(schema, campaign, profileDoc(), now));
  if (d.err) return `runtime refused: ${d.err.code}: ${d.err.message}`;
  return d.ok.segments.rule === c.expect ? null : `runtime evaluated to ${d.ok.segments.rule}`;
}

/**
 * Runs every case of `files` (`[{name, doc}]`) through `dpseg` (the package's module).
 * Returns `{total, negative, failures: [text]}`.
 */
export function runSpec(dpseg, files) {
  const failures = [];
  let total = 0;
  let negative = 0;
  for (const { name, doc } of files) {
    for (const c of doc.cases) {
      total += 1;
      if (c.error !== undefined || (c.lint ?? []).some((f) => f.severity === 'error')) negative += 1;
      let why;
      try {
        why = runCase(dpseg, doc, c);
      } catch (e) {
        why = `threw ${e && e.stack ? e.stack : e}`;
      }
      if (why) failures.push(`${name}: ${c.name}: ${why}`);
    }
  }
  return { total, negative, failures };
}
