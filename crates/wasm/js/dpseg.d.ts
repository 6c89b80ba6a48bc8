// Types of the dpseg browser SDK (dpseg.js).

/** The one error shape of the SDK. */
/**
 * The codes the package's README tables, thrown as `DpsegError.code` or passed to `error`
 * listeners; the engine's core adds others for bad data (`unknown-attribute`, `bad-value`, ...),
 * so the type stays open to any string.
 */
export type ErrorCode =
  | 'bad-input' | 'bad-time' | 'json-syntax' | 'use-open' | 'not-loaded' | 'wasm-load' | 'internal'
  | 'no-collector' | 'network' | 'schema-unavailable' | 'campaign-unavailable' | 'campaign-ended'
  | 'unknown-campaign' | 'unknown-segment' | 'lint-refused' | 'config-id-mismatch' | 'campaign-empty'
  | 'over-report-cap' | 'over-window-cap' | 'over-lifetime-cap' | 'already-reported' | 'dishonest-mechanism'
  | 'device-syntax' | 'runnable-syntax' | 'no-storage' | 'clock-skew' | 'send-failed'
  | 'not-for-personalization' | 'no-consent' | 'schema-mismatch' | 'unknown-data' | 'purpose-mismatch'
  | 'sensitive-without-review' | 'campaign-syntax'
  | (string & {});

export class DpsegError extends Error {
  readonly name: 'DpsegError';
  /** Stable code, such as `unknown-attribute`, `lint-refused`, `config-id-mismatch`. */
  readonly code: ErrorCode;
  /** Where and what: `{path}` for profile values, `{at}` for rules, `{findings}` for lint. */
  readonly details: Record<string, unknown> | null;
}

/** A JSON value as the data map allows it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The data map in its JSON form (the TOML file's tables as objects). */
export interface DataMap {
  attributes?: Record<string, {
    type: 'number' | 'string' | 'bool' | 'set' | 'time';
    /** Default `'declared'`. */
    source?: 'declared' | 'observed';
    purposes?: string[];
    sensitive?: string;
    values?: string[];
    description?: string;
    /** What the visitor reads (docs/data-map.md, "Words for the visitor"). */
    label?: string;
    /** The question the attribute answers, as the site asks it. */
    question?: string;
    /** Words of `values` as the visitor reads them. */
    value_labels?: Record<string, string>;
  }>;
  events?: Record<string, {
    props?: Record<string, 'number' | 'string' | 'bool' | 'time'>;
    purposes?: string[];
    /** A duration such as `90d`, `52w`; absent: kept up to the event limit. */
    retention?: string;
    sensitive?: string;
    description?: string;
    /** What the visitor reads: a singular noun phrase ("purchase"). */
    label?: string;
  }>;
  /** Per purpose, `before_consent`: `'nothing'` (default) or `'declared'` (docs/data-map.md). */
  purposes?: Record<string, { before_consent?: 'nothing' | 'declared'; description?: string }>;
}

/** Something like `localStorage`. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  key(index: number): string | null;
  readonly length: number;
}

export interface OpenOptions {
  /** The data map (object or JSON text); default: the collector's, from `GET /v1/schema`. */
  schema?: DataMap | string;
  /** The collector's base URL; without it nothing is ever sent. */
  collector?: string | null;
  /** Highest ε of one report; campaigns asking more are refused. Default 2. */
  epsilonReportMax?: number;
  /** Highest total ε over the rolling 30-day window; when reached nothing is sent. Default 8. */
  epsilonWindowMax?: number;
  /** Highest total ε of the permanent answers a device creates, for as long as its state is kept (default 32). */
  epsilonLifetimeMax?: number;
  /**
   * Send reports even when state cannot persist (memory-only storage, blocked or full storage).
   * Every page is then a new device, with a new secret and an empty ledger, so the lifetime
   * bound does not hold; default false: evaluate and explain, but do not report.
   */
  reportWithoutStorage?: boolean;
  /** Milliseconds after which a request to the collector is abandoned (default 3000). */
  timeout?: number;
  /** Log the engine's decisions (why nothing was sent) with `console.debug`. */
  debug?: boolean;
  /** Origins whose `postMessage({dpseg: [command, ...args]})` the engine runs (the native bridge). */
  bridgeOrigins?: string[];
  /** Where state persists: default `localStorage`; `'memory'` keeps nothing across reloads. */
  storage?: StorageLike | 'memory';
  /** Prefix of the storage keys. Default `dpseg`. */
  storageKey?: string;
  /**
   * Purposes whose campaigns' memberships the page may use (`memberships`, `inSegment`,
   * `evaluate`); other campaigns answer empty maps with `not-for-personalization`. Default
   * `['personalization']`.
   */
  personalize?: string[];
  /** The purpose reports are: every report needs the visitor's yes to it and to its campaign's purpose. Default `'measurement'`. */
  measurement?: string;
  /** Treat `navigator.globalPrivacyControl` as "no measurement". Default true. */
  honourGpc?: boolean;
  /** Run the report timer. Default true when a collector is given. */
  autoSchedule?: boolean;
  /** The runtime's wasm (URL, Response, bytes or WebAssembly.Module); default: `dpseg_rt_bg.wasm` next to dpseg.js. */
  wasm?: unknown;
  /** The report module's wasm (device state, reports, ledger), loaded only when needed; default: `dpseg_report_bg.wasm` next to dpseg.js. */
  /** The check module's wasm (default `dpseg_check_bg.wasm` next to dpseg.js), imported when a campaign version is new to the device. */
  check?: unknown;
  report?: unknown;
  /** The verify-only module's wasm, loaded only when needed; default: `dpseg_verify_bg.wasm` next to dpseg.js. */
  verifier?: unknown;
  /** The full module's wasm (explanations, tools), loaded only when needed; default: `dpseg_core_bg.wasm` next to dpseg.js. */
  tools?: unknown;
  /** The clock, milliseconds since 1970 (tests inject one). */
  now?: () => number;
  /** The fetch to use (tests inject one). */
  fetch?: typeof fetch;
}

/**
 * The wire shapes the collector serves (`src/wire.rs`, pinned by `tests/spec/wire/*.json`; the
 * package's type test checks those files against these types).
 */
/** A segment as written. */
export interface SegmentDef {
  id: string;
  rule: string;
  description?: string;
  /** The people it holds, as the visitor reads them: "You are among …". */
  visitor?: string;
}
/** A group as written: the first case whose rule holds. */
export interface GroupDef {
  id: string;
  cases: { id: string; rule: string; visitor?: string }[];
  description?: string;
  visitor?: string;
}
/** `GET /v1/campaigns/{id}`: what `addCampaign` takes. */
export interface CampaignDocument {
  id: string;
  /** The content id of `compiled` (docs/compiled.md). */
  config_id: string;
  /** The `schema_id` of the data map it was compiled against. */
  schema_id?: string;
  /** What devices run: the compiled campaign, base64url. Without it, the verifier compiles the rules. */
  compiled?: string;
  purpose: string;
  epoch: string;
  epoch_secs: number;
  epsilon: number;
  epsilon_lifetime: number;
  segments: SegmentDef[];
  groups: GroupDef[];
  review?: { by: string; at: string; why: string; covers: string[] };
  /** The campaign's name for the visitor. */
  title?: string;
  description?: string;
  /** The planned mechanism, for people; devices run the one in `compiled`. */
  mechanism: Json;
}
/** `GET /v1/campaigns`. */
export interface CampaignList {
  campaigns: { id: string; config_id: string; purpose: string; epoch_secs: number; epsilon: number }[];
}
/** A figure per segment (its members) and per case of every group. */
export interface PerValue<T> {
  segments: Record<string, T>;
  groups: Record<string, Record<string, T>>;
}
/** A count estimate with its 95% interval. */
export interface Estimate { estimate: number; clamped: number; std: number; ci_low: number; ci_high: number; reports: number }
/** `GET /v1/campaigns/{id}/estimates`. */
export interface Estimates {
  campaign: string;
  config_id: string;
  mechanism: { per_report: number; epsilon_report: number; epsilon_lifetime: number };
  epochs: (PerValue<Estimate> & {
    epoch: number;
    reports: number;
    report_rate_anomaly: { reports: number; median_before: number; factor: number } | null;
  })[];
  stale_config_reports: Record<string, number>;
}

export interface CampaignInfo {
  id: string;
  /** The content id of the compiled campaign the device checked and runs. */
  config_id: string;
  /** The `schema_id` of the data map it was checked against. */
  schema_id: string;
  purpose: string;
  epoch_secs: number;
  epsilon: number;
  epsilon_lifetime: number;
  /** The campaign's name for the visitor (`title`), if it has one. */
  title?: string | null;
  /** Each segment with its description and its name for the visitor (`visitor` words). */
  segments: { id: string; description: string | null; visitor?: string | null }[];
  groups: { id: string; cases: string[] }[];
  /** Items answered in each report, and bytes of each answer (the payload holds a 2-byte item index before each). */
  per_report: number;
  answer_bytes: number;
  /** The sensitive attributes and events its rules read: it needs the visitor's consent to the campaign itself. */
  sensitive: { data: string; category: string }[];
}

export interface Memberships {
  segments: Record<string, boolean>;
  groups: Record<string, string | null>;
}

export interface Reason {
  /** A sentence in the data map's words: "Your activities include hiking". */
  text: string;
  holds: boolean;
  /** The condition as the rule writes it, for the curious. */
  rule: string;
  because?: Reason[];
}

export interface Explanation {
  /** "You are among hikers with a budget for gear, because:" */
  summary: string;
  holds: boolean;
  reasons: Reason[];
}

export interface SentRequest {
  /** When, RFC 3339. */
  at: string;
  url: string;
  /** The request body, byte for byte. */
  body: string;
  /** HTTP status, or the network error. */
  status: number | string | null;
}

export interface Status {
  storage: 'persistent' | 'memory';
  storageProblem: string | null;
  gpc: boolean;
  honourGpc: boolean;
  consent: Record<string, boolean>;
  pending: number;
  campaigns: number;
  lastError: string | null;
}

export interface LintFinding {
  code: string;
  severity: 'error' | 'warning';
  segment?: string;
  line?: number;
  column?: number;
  message: string;
  snippet?: string;
}

export class Engine {
  set(name: string, value: Json | undefined): void;
  unset(name: string): void;
  track(name: string, props?: Record<string, Json>, at?: Date | string): void;
  profile(): { attributes: Record<string, Json>; events: { name: string; at: string; props?: Record<string, Json> }[] };
  /** The data map as the engine validated it (a copy); a field left out takes its default. */
  dataMap(): DataMap;
  loadCampaign(id: string): Promise<CampaignInfo>;
  /** Verifies (loading the verifier module if needed) and keeps a campaign document. */
  addCampaign(document: CampaignDocument | Record<string, Json> | string): Promise<CampaignInfo>;
  campaigns(): CampaignInfo[];
  /** For use on the page; throws `not-for-personalization` or `no-consent` where `memberships` answers empty maps. */
  evaluate(campaign: string): Uint16Array;
  /**
   * For use on the page: only a campaign of a `personalize` purpose the visitor allowed (and,
   * when it reads sensitive data, the campaign itself). Otherwise, and for a campaign that is not
   * loaded, empty maps, with the reason on `error` (`not-for-personalization`, `no-consent`,
   * `unknown-campaign`), never thrown.
   */
  memberships(campaign: string): Memberships;
  /** Any loaded campaign's memberships, to show the visitor (the preference center); never for changing the page. */
  membershipsForVisitor(campaign: string): Memberships;
  /** `false` where `memberships` answers empty maps, and for a segment the campaign lacks (reported on `error`). */
  inSegment(campaign: string, segment: string): boolean;
  /** Subscribes to the engine's events; returns the function that unsubscribes. */
  on(type: 'change', fn: (detail: { reason: 'profile' | 'campaign'; campaign?: string }) => void): () => void;
  on(type: 'report', fn: (detail: { campaign: string; status: number | string }) => void): () => void;
  on(type: 'error', fn: (detail: { code: ErrorCode; message: string }) => void): () => void;
  /** Why the visitor is (not) in a segment, in words; loads the full module on first use. */
  explain(campaign: string, segment: string): Promise<Explanation>;
  gpc(): boolean;
  allowed(purpose: string): boolean;
  /** The visitor's choices: a key is a purpose, or `campaign:ID` for a campaign that reads sensitive data. */
  consent(): Record<string, boolean>;
  /**
   * Records a choice for a purpose, or for `campaign:ID`: a campaign whose rules read sensitive
   * data (`CampaignInfo.sensitive`) reports, and is used on the page, only with a yes to it too.
   */
  setConsent(purposeOrCampaign: string, granted: boolean): void;
  /**
   * ε spent over the rolling 30-day window, the site's caps, and the ledger. Async: the ledger is
   * read by the report module, which is imported on first use.
   */
  budget(): Promise<{
    spent: number;
    windowMax: number;
    reportMax: number;
    ledger: { campaign: string; epoch: number; epsilon: number; at: number }[];
    /** ε of every permanent answer this device has created (the lifetime ledger). */
    charged: number;
    /** The lifetime cap `charged` may not pass. */
    lifetimeMax: number;
  }>;
  tick(): Promise<void>;
  /** Makes this epoch's reports now instead of at their random time (consent and caps apply). */
  sendNow(): Promise<void>;
  flush(): Promise<void>;
  sent(): SentRequest[];
  pending(): { campaign: string; epoch: number; report: string; attempts: number }[];
  /**
   * Everything kept and sent for the visitor, as one JSON value (for a download): never the
   * device secret. Async: the ledger is read by the report module.
   */
  export(): Promise<{
    format: 'dpseg-export-1';
    exported_at: string;
    profile: Json;
    consent: Record<string, boolean>;
    campaigns: CampaignInfo[];
    memberships: Record<string, Memberships>;
    sent: SentRequest[];
    pending: { campaign: string; epoch: number; report: string; attempts: number }[];
    ledger: { campaign: string; epoch: number; epsilon: number; at: number }[];
    charged: number;
  }>;
  status(): Status;
  forget(): void;
  close(): void;
}

/**
 * Loads the runtime module (`open` does it). `source`, `more.report`, `more.verifier` and
 * `more.tools` are what wasm-bindgen's init accepts (URL, Response, bytes, module) for the
 * runtime's, the report module's, the verify-only module's and the full module's wasm; by
 * default the files next to dpseg.js are fetched, the last three only when first needed.
 */
export function load(source?: unknown, more?: { check?: unknown; report?: unknown; verifier?: unknown; tools?: unknown }): Promise<void>;
export function open(options: OpenOptions): Promise<Engine>;
export function version(): Promise<string>;
