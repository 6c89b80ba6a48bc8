// Types of the consent adapters (`dpseg/consent`); see the package README, "Consent signals".
import type { Engine } from './dpseg.js';

/** Follows an IAB TCF v2.2 CMP; returns a function that stops, or `false` without a CMP. */
export function connectTcf(
  engine: Engine,
  options: { purposes: Record<string, number[]>; vendor?: number },
): (() => void) | false;

/** Follows Google Consent Mode (`gtag('consent', ...)`); returns a function that stops. */
export function connectConsentMode(
  engine: Engine,
  options: { types: Record<string, string[]>; dataLayer?: unknown[] },
): () => void;
