// Consent adapters of the dpseg SDK: they keep the engine's per-purpose consent in step with the
// consent signals a site already has, an IAB TCF v2.2 CMP (`__tcfapi`) or Google Consent Mode
// (`gtag('consent', ...)`), mapped to dpseg purposes by the site's configuration. Import it only
// on sites that use one (`import { connectTcf } from 'dpseg/consent'`); see the package README.

/**
 * Follows an IAB TCF v2.2 CMP: whenever the TC string is loaded or the visitor acts, each dpseg
 * purpose is granted exactly when every TCF purpose mapped to it has the visitor's consent (and,
 * with `vendor`, the vendor has consent too). `purposes` maps dpseg purposes to TCF purpose ids,
 * e.g. `{ measurement: [1, 8, 9], personalization: [1, 3, 4] }`. Returns a function that stops
 * following; `false` when the page has no CMP.
 */
export function connectTcf(engine, { purposes, vendor } = {}) {
  const tcfapi = globalThis.__tcfapi;
  if (typeof tcfapi !== 'function') return false;
  let listener = null;
  tcfapi('addEventListener', 2, (tc, ok) => {
    if (!ok || !tc) return;
    listener = tc.listenerId ?? listener;
    if (tc.eventStatus !== 'tcloaded' && tc.eventStatus !== 'useractioncomplete') return;
    // A CMP that does not apply TCF (gdprApplies false) leaves consent to the site.
    if (tc.gdprApplies === false) return;
    const vendorOk = vendor === undefined || tc.vendor?.consents?.[vendor] === true;
    for (const [purpose, ids] of Object.entries(purposes ?? {})) {
      const granted = vendorOk && ids.length > 0 && ids.every((id) => tc.purpose?.consents?.[id] === true);
      if (engine.consent()[purpose] !== granted) engine.setConsent(purpose, granted);
    }
  });
  return () => listener !== null && tcfapi('removeEventListener', 2, () => {}, listener);
}

/**
 * Follows Google Consent Mode: every `gtag('consent', 'default' | 'update', {...})` on the page
 * (already in `dataLayer`, and from now on) sets each dpseg purpose from the Consent Mode types
 * mapped to it: granted when all of them are `granted`. `types` maps dpseg purposes to Consent
 * Mode types, e.g. `{ measurement: ['analytics_storage'], personalization: ['ad_user_data',
 * 'ad_personalization'] }`. Returns a function that stops following.
 */
export function connectConsentMode(engine, { types, dataLayer = (globalThis.dataLayer ??= []) } = {}) {
  const state = {};
  const apply = (entry) => {
    // gtag pushes its `arguments` object: ['consent', 'default' | 'update', {type: 'granted'}].
    const [command, action, values] = Array.from(entry ?? []);
    if (command !== 'consent' || (action !== 'default' && action !== 'update') || typeof values !== 'object') return;
    Object.assign(state, values);
    for (const [purpose, names] of Object.entries(types ?? {})) {
      if (!names.some((n) => n in state)) continue;
      const granted = names.every((n) => state[n] === 'granted');
      if (engine.consent()[purpose] !== granted) engine.setConsent(purpose, granted);
    }
  };
  for (const entry of dataLayer) apply(entry);
  const push = dataLayer.push;
  dataLayer.push = function (...entries) {
    for (const e of entries) apply(e);
    return push.apply(this, entries);
  };
  return () => {
    dataLayer.push = push;
  };
}
