// Types of the tools entry of the dpseg SDK (`dpseg/tools`, the file dpseg_tools.js): lint, the
// planner, rule and profile tools, for rule editors, dashboards and the spec suite.

import type { DataMap, Json, LintFinding, Memberships } from './dpseg.js';

/**
 * Loads the full module (and the runtime); `lint`, `plan` and `tools` need it awaited first.
 * `source` as for `load` in dpseg.js (default: `dpseg_core_bg.wasm` next to dpseg.js).
 */
export function loadTools(source?: unknown): Promise<unknown>;

export function lint(
  schema: DataMap | string,
  campaign: Record<string, Json> | string,
  config?: { epsilonMax?: number; devices?: number; limits?: Record<string, number> },
): LintFinding[];

/** One segment's or case's expected figures (`wire::PlanItem`, tests/spec/wire/plan.json). */
export interface PlanItem {
  oracle: string;
  epsilon: number;
  rate: number;
  expected_reports: number;
  std: number;
  half_width_95: number;
}

/** The planner's answer, the same shape as `dpseg plan`'s (`wire::Plan`). */
export interface Plan {
  campaign: string;
  devices: number;
  epsilon_report: number;
  epsilon_lifetime: number;
  per_report: number;
  items: number;
  segments: Record<string, PlanItem>;
  groups: Record<string, Record<string, PlanItem>>;
}

export function plan(
  campaign: Record<string, Json> | string,
  options: { devices: number; rate?: number; epsilon?: number },
): Plan;

export const tools: {
  /** The rule's JSON tree. */
  parseRule(rule: string, limits?: Record<string, number>): Json;
  checkRule(schema: DataMap, rule: { rule?: string; ast?: Json }, profile: Json, now: string, limits?: Record<string, number>): boolean;
  printRule(rule: { rule?: string; ast?: Json }, limits?: Record<string, number>): string;
  evaluateCampaign(schema: DataMap, campaign: Json, profile: Json, now: string, limits?: Record<string, number>): Memberships;
  /** As `evaluateCampaign`, evaluated by the runtime module exactly as a device does. */
  evaluateOnDevice(schema: DataMap | string, campaign: Json, profile: Json, now: string): Memberships;
  checkProfile(schema: DataMap, profile: Json, now: string, limits?: Record<string, number>): void;
  /** As `checkProfile`, checked by the runtime module as a device checks what it stores. */
  checkProfileOnDevice(schema: DataMap | string, profile: Json, now: string): void;
};
