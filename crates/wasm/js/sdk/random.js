/** A uniform draw in [0, 1) from the platform's cryptographic generator. */
export function randomUnit() {
  const b = new Uint32Array(1);
  globalThis.crypto.getRandomValues(b);
  return b[0] / 2 ** 32;
}
