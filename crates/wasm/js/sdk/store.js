// Storage that survives reloads when it can, says when it cannot, and never throws into the page.

/** Bytes as base64 text (for storage), and back. */
export function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
export function fromBase64(t) {
  return Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
}

/** Storage that survives reloads when it can, and says when it cannot. */
export class Store {
  constructor(backend, prefix) {
    this.prefix = prefix;
    this.memory = new Map();
    /** Per name, the text this engine last read or wrote: what `changed` compares with. */
    this.seen = new Map();
    this.backend = null;
    /** The real storage, kept after a failure so that `wipe` can still empty it. */
    this.origin = null;
    this.problem = null;
    if (backend === 'memory') {
      this.problem = 'in memory by configuration';
      return;
    }
    try {
      const s = backend ?? globalThis.localStorage;
      if (!s) throw new Error('no localStorage in this environment');
      const probe = `${prefix}:probe`;
      s.setItem(probe, '1');
      s.removeItem(probe);
      this.backend = s;
      this.origin = s;
    } catch (e) {
      this.problem = `storage unavailable: ${e?.message ?? e}`;
    }
  }

  get(name) {
    const key = `${this.prefix}:${name}`;
    if (this.backend) {
      try {
        return this.backend.getItem(key);
      } catch (e) {
        this.fail(e);
      }
    }
    return this.memory.has(key) ? this.memory.get(key) : null;
  }

  set(name, value) {
    const key = `${this.prefix}:${name}`;
    this.seen.set(name, value);
    this.memory.set(key, value);
    if (!this.backend) return;
    try {
      this.backend.setItem(key, value);
    } catch (e) {
      this.fail(e);
    }
  }

  remove(name) {
    const key = `${this.prefix}:${name}`;
    this.memory.delete(key);
    if (!this.backend) return;
    try {
      this.backend.removeItem(key);
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Removes every key of this engine's prefix from memory and from the real storage, even after
   * a failure moved this session to memory (a full storage still deletes). Returns the keys that
   * could not be removed.
   */
  wipe() {
    this.memory.clear();
    this.seen.clear();
    const left = [];
    // The device state first: other tabs take its absence as the signal to forget too.
    for (const k of [`${this.prefix}:device`, ...this.keys(this.origin)]) {
      try {
        this.origin?.removeItem(k);
      } catch {
        left.push(k);
      }
    }
    return left;
  }

  /** The keys of this engine's prefix in storage `s` (none when it cannot be listed). */
  keys(s) {
    const out = [];
    try {
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i);
        if (k?.startsWith(`${this.prefix}:`)) out.push(k);
      }
    } catch {
      // Unlistable storage.
    }
    return out;
  }

  /** Storage broke (full, revoked): keep everything in memory from now on. */
  fail(e) {
    // Copy what storage holds so nothing already kept is lost to this session.
    for (const k of this.keys(this.backend)) {
      try {
        if (!this.memory.has(k)) this.memory.set(k, this.backend.getItem(k));
      } catch {
        // Unreadable storage: memory holds what this session wrote.
      }
    }
    this.backend = null;
    this.problem = `storage failed, now in memory: ${e?.message ?? e}`;
  }

  /** The stored text of `name` when another tab changed it since this engine last saw it. */
  changed(name) {
    const t = this.get(name);
    if (t === this.seen.get(name)) return undefined;
    this.seen.set(name, t);
    return t;
  }

  getJson(name, fallback) {
    const text = this.get(name);
    this.seen.set(name, text);
    if (text == null) return fallback;
    try {
      return JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  setJson(name, value) {
    this.set(name, JSON.stringify(value));
  }
}
