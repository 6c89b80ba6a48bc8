// The tools of the dpseg SDK (lint, the planner, rule and profile tools), imported by
// `loadTools()` with the full module (dpseg_core), so that a page that does not use them does
// not load their code. dpseg.js passes what they share with it to `install`; see dpseg.js and
// dpseg.d.ts for the public API.

/** `{lint, plan, tools}` over the full module `core`, the runtime's `Runtime` and dpseg.js's helpers. */
export function install({ core, Runtime, guard, text, num, optNum, optStr }) {
  /** Lints a campaign (JSON form) against a data map (JSON form): `[{code, severity, ...}]`. */
  function lint(schema, campaign, { epsilonMax, devices, limits } = {}) {
    const [s, c] = [text(schema), text(campaign)];
    return JSON.parse(guard(() => core.lint(s, c, optNum(epsilonMax), optNum(devices), limits && text(limits))));
  }

  /**
   * The planner: expected ±95% half-width per segment and group of a campaign (JSON form or
   * collector document) with `devices` reporting devices an epoch, for a value held by `rate` of
   * them, optionally at another ε per report.
   */
  function plan(campaign, { devices, rate = 0.05, epsilon } = {}) {
    const c = text(campaign);
    return JSON.parse(guard(() => core.planCampaign(c, num(devices), num(rate), optNum(epsilon))));
  }

  const tools = {
    parseRule: (rule, limits) => JSON.parse(guard(() => core.parseRule(String(rule), limits && text(limits)))),
    checkRule: (schema, { rule, ast }, profile, now, limits) =>
      guard(() =>
        core.checkRule(text(schema), optStr(rule), ast === undefined ? undefined : text(ast), text(profile), String(now), limits && text(limits)),
      ),
    printRule: ({ rule, ast }, limits) =>
      guard(() => core.printRule(optStr(rule), ast === undefined ? undefined : text(ast), limits && text(limits))),
    evaluateCampaign: (schema, campaign, profile, now, limits) =>
      JSON.parse(guard(() => core.evaluateCampaign(text(schema), text(campaign), text(profile), String(now), limits && text(limits)))),
    /**
     * As `evaluateCampaign`, but evaluated by the runtime module, exactly as a device does: the
     * verifier compiles the campaign, the runtime loads it with the profile and evaluates at
     * `now` (RFC 3339). Caps do not apply.
     */
    evaluateOnDevice: (schema, campaign, profile, now) => {
      const c = typeof campaign === 'string' ? JSON.parse(campaign) : campaign;
      const bytes = guard(() => core.compileRunnable(text(schema), text(c)));
      const ms = Date.parse(now);
      const device = guard(() => new Runtime(core.compactSchema(text(schema)), 1e300, 1e300));
      try {
        guard(() => device.importProfile(typeof profile === 'string' ? JSON.parse(profile) : profile, ms));
        const flat = guard(() => device.evaluate(device.loadRunnable(bytes), ms));
        const segments = {};
        const groups = {};
        (c.segments ?? []).forEach((s, i) => {
          segments[s.id] = flat[i] === 1;
        });
        (c.groups ?? []).forEach((g, i) => {
          const v = flat[(c.segments ?? []).length + i];
          groups[g.id] = v === 0 ? null : g.cases[v - 1].id;
        });
        return { segments, groups };
      } finally {
        device.free();
      }
    },
    /**
     * As `checkProfile` (a profile as a JSON value, default limits), checked by the runtime
     * module as a device checks what it stores.
     */
    checkProfileOnDevice: (schema, profile, now) => {
      const device = guard(() => new Runtime(core.compactSchema(text(schema)), 1e300, 1e300));
      try {
        guard(() => device.importProfile(profile, Date.parse(now)));
      } finally {
        device.free();
      }
    },
    checkProfile: (schema, profile, now, limits) =>
      guard(() => core.checkProfile(text(schema), text(profile), String(now), limits && text(limits))),
  };

  return { lint, plan, tools };
}
