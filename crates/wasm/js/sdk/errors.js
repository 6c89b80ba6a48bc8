// The SDK's one error shape and the helpers that turn the engine's answers into it.

/** The one error shape of the SDK: a stable `code`, a message, and `details`. */
export class DpsegError extends Error {
  constructor(code, message, details = null) {
    super(message);
    this.name = 'DpsegError';
    this.code = code;
    this.details = details;
  }
}

function wrap(e) {
  if (e instanceof DpsegError) return e;
  if (e?.name === 'DpsegError') return new DpsegError(e.code, e.message, e.details ?? null);
  return new DpsegError('internal', `dpseg engine failure: ${e?.message ?? e}`);
}

/** Runs `f`, turning anything it throws into a DpsegError. */
export function guard(f) {
  try {
    return f();
  } catch (e) {
    throw wrap(e);
  }
}

/** `v` as JSON text for the engine (text passes through); throws DpsegError if it has none. */
export function text(v) {
  if (typeof v === 'string') return v;
  let t;
  try {
    t = JSON.stringify(v);
  } catch (e) {
    throw new DpsegError('bad-input', `not a JSON value: ${e?.message}`);
  }
  return t === undefined ? 'null' : t;
}

/** `v` as a number for the engine: anything else is NaN, which the engine refuses by name. */
export const num = (v) => (typeof v === 'number' ? v : NaN);
export const optNum = (v) => (v === undefined || v === null ? undefined : num(v));
export const optStr = (v) => (typeof v === 'string' ? v : undefined);
