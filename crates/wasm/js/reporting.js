// The reporting half of the dpseg SDK: making reports with the report module and sending the
// outbox. dpseg.js imports it with the report module (`dpseg_report.js`), only on pages where a
// report is due, reports wait to be sent or `budget()` is asked, so that what every page loads
// stays small. dpseg.js passes the helpers it shares to `install`; see dpseg.js and dpseg.d.ts
// for the public API.

const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 3_600_000;
const SENT_LOG_MAX = 500;
const LEASE_MS = 30_000;
/** Reports older than this many epochs leave the outbox unsent: the collector refuses them. */
const OUTBOX_EPOCHS_BACK = 2;

/**
 * Claims this epoch's report of a campaign for this tab, across the origin's tabs (Web Locks):
 * the first tab to ask holds the lock `PREFIX:report:CAMPAIGN:EPOCH` until the epoch ends or the
 * page goes, and every other tab is refused it (`false`) and does not report. A lock that is only
 * held while reporting is not enough: `localStorage` reaches other tabs' processes
 * asynchronously, so a tab that takes the lock right after another released it can still read
 * the ledger from before that tab's report. Where the API is missing (older browsers, some
 * webviews) every claim succeeds and tabs rely on re-reading storage, as before.
 */
function claim(engine, info, epoch) {
  const locks = globalThis.navigator?.locks;
  if (!locks?.request) return Promise.resolve(true);
  const name = `${engine.store.prefix}:report:${info.id}:${epoch}`;
  const ends = (epoch + 1) * info.epoch_secs * 1000 - engine.now();
  return new Promise((resolve) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        // Held until the epoch is over (or the page goes, which releases it).
        return lock && new Promise((done) => setTimeout(done, Math.max(0, Math.min(ends, 2 ** 31 - 1))));
      })
      .catch(() => resolve(true));
  });
}

/** `{report, send, budget, hurry}` over the report module `m` and dpseg.js's helpers. */
export function install({ m, guard, fromBase64, randomUnit, timed }) {
  /**
   * Before spending ε on campaign `c`, asks the collector for it: a campaign it no longer
   * serves (404, 410) is dropped; a new version is verified and reported next time; and the
   * collector's clock (its `Date` header) must put this device's epoch inside the window it
   * accepts (two epochs back to one ahead), or a wrong device clock would spend ε on a report
   * the collector refuses. Without an answer nothing is spent now. Returns true to report.
   */
  async function stillServed(e, c, epoch) {
    if (!e.collector) return true;
    let res;
    try {
      res = await timed(e.fetch, `${e.collector}/v1/campaigns/${encodeURIComponent(c.info.id)}`, e.timeout);
    } catch (err) {
      e.note(err.code, `${err.message}; the report waits`);
      return false;
    }
    if (res.status === 404 || res.status === 410) {
      e.dropCampaign(c.info.id);
      e.note('campaign-ended', `'${c.info.id}' is not served any more`);
      return false;
    }
    if (!res.ok) return false;
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(date)) {
      const theirs = Math.floor(date / (c.info.epoch_secs * 1000));
      if (epoch < theirs - 2 || epoch > theirs + 1) {
        e.note('clock-skew', `this device's clock is ${Math.round((e.now() - date) / 60_000)} min off the collector's; not reporting`);
        return false;
      }
    }
    const text = await res.text();
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      return false;
    }
    if (doc.config_id !== c.info.config_id) {
      // A new version: verified now, reported at its own time (never the old, stale one).
      await e.addCampaign(text).catch((err) => e.note(err.code, err.message));
      return false;
    }
    return true;
  }

  /** The report module's reporter for `e`'s caps, with the campaigns it has read. */
  function reporterOf(e) {
    e.reporter ??= { r: guard(() => new m.Reporter(e.epsilonReportMax, e.epsilonWindowMax, e.epsilonLifetimeMax)), loaded: new Map() };
    return e.reporter;
  }

  /** Makes the reports `isDue` picks whose epoch this tab could claim. */
  async function report(e, isDue, now) {
    const mine = new Set();
    for (const c of [...e.handles.values()]) {
      const epoch = isDue(c) && e.due(c.info, now).epoch;
      if (epoch !== false && (await stillServed(e, c, epoch)) && (await claim(e, c.info, epoch))) mine.add(c);
    }
    makeReports(e, (c) => mine.has(c) && isDue(c), now);
  }

  /** Makes the reports `isDue` picks; no await inside, so no tick of this tab interleaves. */
  function makeReports(e, isDue, now) {
    const { r, loaded } = reporterOf(e);
    e.sync(); // what other tabs did meanwhile
    for (const c of e.handles.values()) {
      if (!isDue(c)) continue;
      const { info } = c;
      const s = e.due(info, now);
      try {
        // The reporter reads a campaign once per version (its head and mechanism).
        let l = loaded.get(info.id);
        if (l?.runnable !== c.runnable) {
          l = { runnable: c.runnable, handle: guard(() => r.load(fromBase64(c.runnable))) };
          loaded.set(info.id, l);
        }
        if (e.deviceText === undefined) e.saveDevice(guard(() => m.newDevice()));
        // A stored device state this build cannot read (device-syntax) is never replaced by a
        // new one: that would restart the visitor's privacy budget. Reporting stops instead,
        // with the error, until the visitor resets (forget()).
        const made = guard(() => r.report(l.handle, fromBase64(e.deviceText), (i) => e.rt.itemTruth(c.handle, i, now), now));
        // The spend is stored before the report: losing a report is safe, re-spending is not.
        e.saveDevice(made.device);
        e.outbox.push({ campaign: info.id, purpose: info.purpose, sensitive: info.sensitive, epoch: s.epoch, report: made.body, attempts: 0, next: now });
        e.store.setJson('outbox', e.outbox);
      } catch (err) {
        // already-reported (say, after a reload) or a cap reached: nothing to send this epoch.
        if (err.code !== 'already-reported') e.note(err.code, err.message);
      }
      s.done = true;
      e.store.setJson('schedule', e.scheduleState);
    }
  }

  /** Drops reports the collector would refuse as too old (and so keeps the outbox bounded). */
  function dropStale(e, now) {
    const keep = e.outbox.filter((r) => {
      const c = e.handles.get(r.campaign);
      if (!c) return false; // the campaign is no longer loaded
      return r.epoch + OUTBOX_EPOCHS_BACK >= Math.floor(now / (c.info.epoch_secs * 1000));
    });
    if (keep.length !== e.outbox.length) {
      e.outbox = keep;
      e.store.setJson('outbox', e.outbox);
    }
  }

  function record(e, entry) {
    e.sentLog.push(entry);
    if (e.sentLog.length > SENT_LOG_MAX) e.sentLog.splice(0, e.sentLog.length - SENT_LOG_MAX);
    e.store.setJson('sent', e.sentLog);
  }

  /**
   * Sends the reports whose retry time has come: one request per campaign, so that a request
   * never links one device's reports of several campaigns (docs/privacy.md, "What the collector
   * can link"). The body is `text/plain`: a CORS-simple request, so the brand's origin pays no
   * preflight; the collector reads it as JSON.
   */
  async function send(e) {
    const generation = e.generation;
    e.dropDisallowed();
    const now = e.now();
    dropStale(e, now);
    const due = e.outbox.filter((r) => r.next <= now);
    if (due.length === 0) return;
    // A lease: other tabs leave these alone while this one is sending them.
    for (const r of due) r.next = now + LEASE_MS;
    e.store.setJson('outbox', e.outbox);
    const campaigns = [...new Set(due.map((r) => r.campaign))];
    const results = await Promise.all(
      campaigns.map(async (id) => {
        const batch = due.filter((r) => r.campaign === id);
        const body = `[${batch.map((r) => r.report).join(',')}]`;
        const entry = { at: new Date(now).toISOString(), url: `${e.collector}/v1/reports`, body, status: null };
        let outcome = null;
        try {
          const res = await e.fetch(entry.url, {
            method: 'POST',
            headers: { 'content-type': 'text/plain;charset=UTF-8' },
            body,
            keepalive: true,
            credentials: 'omit',
            referrerPolicy: 'no-referrer',
            mode: 'cors',
          });
          entry.status = res.status;
          if (res.ok) outcome = await res.json();
        } catch (err) {
          entry.status = `network error: ${err && err.message ? err.message : err}`;
        }
        return { batch, entry, outcome };
      }),
    );
    // Closed, or forgotten while the requests were out: nothing of them is written back.
    if (e.closed || generation !== e.generation) return;
    // Storage may have changed while the requests were out (another tab, a reload of state):
    // take it, then settle each batch's entries by their report text.
    e.sync();
    for (const { batch, entry, outcome } of results) {
      record(e, entry);
      e.emit('report', { campaign: batch[0].campaign, status: entry.status });
      const sentNow = new Set(batch.map((r) => r.report));
      if (outcome && typeof outcome === 'object') {
        // Accepted, duplicate (an earlier try arrived) and rejected reports all leave the outbox.
        e.outbox = e.outbox.filter((r) => !sentNow.has(r.report));
        for (const r of outcome.rejected ?? []) e.note(r.code, 'report refused by the collector');
      } else {
        for (const r of e.outbox.filter((x) => sentNow.has(x.report))) {
          r.attempts += 1;
          const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (r.attempts - 1));
          r.next = now + backoff * (0.5 + randomUnit() / 2);
        }
        e.note('send-failed', `sending failed (${entry.status}); will retry`);
      }
    }
    e.store.setJson('outbox', e.outbox);
  }

  /** ε spent over the rolling window, the ledger, and the lifetime ledger's total. */
  function budget(e) {
    const now = e.now();
    const { r } = reporterOf(e);
    e.sync();
    const b = e.deviceText === undefined ? { spent: 0, ledger: [], charged: 0, lifetimeMax: e.epsilonLifetimeMax ?? 32 } : guard(() => r.budget(fromBase64(e.deviceText), now));
    return { ...b, windowMax: e.epsilonWindowMax, reportMax: e.epsilonReportMax };
  }

  /** `sendNow`: this epoch's reports of every campaign that may report are due now. */
  function hurry(e) {
    const now = e.now();
    for (const { info } of e.handles.values()) {
      if (!e.mayReport(info)) continue;
      const s = e.due(info, now);
      if (!s.done) s.at = Math.min(s.at, now);
    }
    e.store.setJson('schedule', e.scheduleState);
  }

  return { report, send, budget, hurry };
}
