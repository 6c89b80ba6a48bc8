// The engine's outbox: reports made but not yet acknowledged, sent with backoff by the reporting
// code (dpseg_reporting.js, loaded only when something waits), and the log of every request
// body sent, for the visitor. Mixed into Engine (engine.js).

import { loadReporter } from './loader.js';

/** The Engine's outbox methods. */
export const outboxMethods = {
  /** ε spent over the rolling window, and the ledger entries (read by the report module). */
  async budget() {
    return (await loadReporter()).budget(this);
  },

  /** Sends the reports waiting in the outbox whose retry time has come. Never throws. */
  flush() {
    if (!this.flushing) {
      this.flushing = this.send().finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  },

  async send() {
    // The reporting code loads only when something waits to be sent.
    if (!this.collector || this.closed || this.outbox.length === 0) return;
    await (await loadReporter()).send(this);
  },

  /** Every request this engine sent: `[{at, url, body, status}]`, the body byte for byte. */
  sent() {
    return this.sentLog.map((e) => ({ ...e }));
  },

  /** Reports made but not yet acknowledged by the collector. */
  pending() {
    return this.outbox.map((r) => ({ campaign: r.campaign, epoch: r.epoch, report: r.report, attempts: r.attempts }));
  },
};
