// The native bridge of the dpseg SDK (README, "In a mobile webview"), imported by `open()` only
// when a page uses it: an app put commands in `window.dpsegQueue` before the SDK loaded, or the
// site passed `bridgeOrigins`.

/** What native code may ask of the engine through the queue or a message. */
const BRIDGED = ['set', 'unset', 'track', 'setConsent'];

/** Runs one bridged command `[name, ...args]`; a bad one is an `error` event, never a throw. */
function bridged(engine, cmd) {
  if (!Array.isArray(cmd) || !BRIDGED.includes(cmd[0])) return engine.note('bad-input', 'not a bridged command');
  try {
    engine[cmd[0]](...cmd.slice(1));
  } catch (e) {
    engine.note(e.code ?? 'bad-input', e.message);
  }
}

/**
 * The native bridge (README, "In a mobile webview"): commands an app queued in
 * `window.dpsegQueue` before the SDK loaded run now, in order; later `dpsegQueue.push(cmd)`
 * runs at once; and `postMessage({dpseg: cmd})` from one of `origins` runs too.
 */
export function bridge(engine, origins) {
  for (const cmd of Array.isArray(globalThis.dpsegQueue) ? globalThis.dpsegQueue : []) bridged(engine, cmd);
  globalThis.dpsegQueue = { push: (cmd) => bridged(engine, cmd) };
  if (origins?.length) {
    globalThis.addEventListener?.('message', (e) => {
      if (origins.includes(e.origin) && e.data?.dpseg) bridged(engine, e.data.dpseg);
    });
  }
}

