// Trailhead Outfitters: how a brand's site uses the dpseg package. Every page imports this
// module; it opens the engine once, with the data map and campaigns from the collector.

import { open, DpsegError } from '/dpseg/dpseg.js';

export const CAMPAIGNS = ['spring-2027', 'family-gear', 'picks'];
export { DpsegError };

let opening = null;

/** The page's engine: opened once, campaigns loaded, first visit recorded. */
export function engine() {
  opening ??= (async () => {
    // The data map comes from the collector (`GET /v1/schema`).
    const dpseg = await open({ collector: location.origin });
    for (const id of CAMPAIGNS) {
      try {
        await dpseg.loadCampaign(id);
      } catch (e) {
        // A campaign the device refuses (or an offline collector) just is not measured here.
        console.warn(`campaign ${id}: ${e.code}: ${e.message}`);
      }
    }
    // Observed, not declared: when this device first came by.
    if (dpseg.profile().attributes.first_visit_at === undefined) {
      dpseg.set('first_visit_at', new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    }
    window.dpsegEngine = dpseg; // for the end-to-end tests and the curious
    return dpseg;
  })();
  return opening;
}

/** Marks the current page in the navigation. */
export function markNav() {
  for (const a of document.querySelectorAll('header.top nav a')) {
    if (new URL(a.href).pathname === location.pathname) a.setAttribute('aria-current', 'page');
  }
}

/** The consent notice, the same on every page of the site. */
const NOTICE = `<section id="consent" class="notice" hidden aria-label="Measurement consent">
  <p><strong>May we count visitors like you, anonymously?</strong> Your answers stay on this
  device. With your permission, it sends us, for each of our campaigns, at most one randomised
  report per counting period (a day or a week); a report tells us nothing certain about you,
  only how many visitors are in each group.</p>
  <p class="gpc muted" hidden>Your browser sends Global Privacy Control, so we will not measure
  anything, whatever you choose here.</p>
  <div class="row">
    <button type="button" data-consent="yes">Allow anonymous counting</button>
    <button type="button" class="secondary" data-consent="no">No thanks</button>
  </div>
</section>`;

/** Shows the consent notice, at the top of the page's main content, until the visitor decides about measurement. */
export async function consentBanner() {
  const dpseg = await engine();
  document.querySelector('main')?.insertAdjacentHTML('afterbegin', NOTICE);
  const box = document.querySelector('#consent');
  if (!box) return;
  const decided = 'measurement' in dpseg.consent();
  box.hidden = decided;
  if (dpseg.gpc()) {
    box.querySelector('.gpc').hidden = false;
  }
  box.querySelector('[data-consent="yes"]').onclick = () => {
    dpseg.setConsent('measurement', true);
    box.hidden = true;
  };
  box.querySelector('[data-consent="no"]').onclick = () => {
    dpseg.setConsent('measurement', false);
    box.hidden = true;
  };
}

/** Escapes text for HTML. */
export function esc(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export const human = (name) => name.replaceAll('_', ' ');
