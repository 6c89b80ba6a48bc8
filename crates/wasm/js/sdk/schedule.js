// The engine's schedule: at most one report per campaign and epoch, made at a random time in the
// epoch (picked once, whether or not the visitor matches anything), and the one timer that wakes
// the engine for the next due report or retry. Mixed into Engine (engine.js).

import { loadReporter } from './loader.js';
import { randomUnit } from './random.js';

const DAY_MS = 86_400_000;
const TIMER_MAX_MS = 60_000;

/** The Engine's scheduling methods. */
export const scheduleMethods = {
  /** When this epoch's report of `info`'s campaign is due; picks a random time once per epoch. */
  due(info, now) {
    const epochMs = info.epoch_secs * 1000;
    const epoch = Math.floor(now / epochMs);
    let s = this.scheduleState[info.id];
    if (!s || s.epoch !== epoch) {
      s = { epoch, at: epoch * epochMs + Math.floor(randomUnit() * epochMs), done: false };
      this.scheduleState[info.id] = s;
      this.store.setJson('schedule', this.scheduleState);
    }
    return s;
  },

  /**
   * Makes every report that is due (consent given, time reached, ledger allows) and sends the
   * outbox. Called by the engine's timer; call it yourself with `autoSchedule: false`.
   * Never throws; problems go to `status().lastError`.
   */
  async tick() {
    if (this.closed) return;
    this.sync();
    const now = this.now();
    const isDue = (c) => {
      if (!this.mayReport(c.info)) return false;
      if (!this.store.backend && !this.reportWithoutStorage) {
        this.note('no-storage', 'no persistent storage: no reports (see reportWithoutStorage)');
        return false;
      }
      const s = this.due(c.info, now);
      return !s.done && now >= s.at;
    };
    if ([...this.handles.values()].some(isDue)) {
      try {
        await (await loadReporter()).report(this, isDue, now);
      } catch (e) {
        // The report module did not load (or refused the caps): the reports stay due, for the next tick.
        this.note(e.code, e.message);
      }
    }
    await this.flush();
    this.arm();
  },

  /**
   * Makes this epoch's reports now rather than at their random time, then sends them; consent,
   * GPC and the ledger apply as always. For a "send now" button or a page that knows it is
   * about to close. Never throws.
   */
  async sendNow() {
    try {
      (await loadReporter()).hurry(this);
    } catch (e) {
      this.note(e.code, e.message);
    }
    await this.tick();
  },

  disarm() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  },

  /** Sets the timer to the next due report or retry (at most a minute away). */
  arm() {
    this.disarm();
    if (!this.autoSchedule || this.closed) return;
    const now = this.now();
    let next = now + TIMER_MAX_MS;
    for (const { info } of this.handles.values()) {
      if (!this.mayReport(info)) continue;
      const s = this.due(info, now);
      next = Math.min(next, s.done ? (s.epoch + 1) * info.epoch_secs * 1000 : s.at);
    }
    for (const r of this.outbox) next = Math.min(next, r.next);
    if (this.handles.size === 0 && this.outbox.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick().catch((e) => {
        this.lastError = `tick failed: ${e?.message}`;
      });
    }, Math.max(0, Math.min(next - now, TIMER_MAX_MS, DAY_MS)));
  },
};
