import { breaches, type PolicyMetric } from './policy-metrics.js';

export type Level = 'warning' | 'critical';

/** Streaks of consecutive minutes with data, counted by what the minute's value reached. */
export interface ConditionState {
  /** Minutes in a row at critical. */
  critical: number;
  /** Minutes in a row at warning or worse. */
  warning: number;
  /** Minutes in a row at exactly warning (not critical). */
  warningOnly: number;
  /** Minutes in a row with no breach. */
  clear: number;
  /** Level of the open incident, or null when none is open. */
  open: Level | null;
  /** The values of the latest minutes with data (newest last, at most the duration): what breached. */
  recent: Array<[minute: number, value: number]>;
}

export const INITIAL_STATE: ConditionState = Object.freeze({ critical: 0, warning: 0, warningOnly: 0, clear: 0, open: null, recent: [] }) as ConditionState;

export type Transition = { kind: 'open'; level: Level } | { kind: 'level'; level: Level; from: Level } | { kind: 'close'; from: Level };

export interface ConditionRule {
  metric: PolicyMetric;
  warning: number | null;
  critical: number | null;
  durationMinutes: number;
}

/** The level one value reaches (null = no breach). */
export function levelOf(rule: ConditionRule, value: number): Level | null {
  if (rule.critical !== null && breaches(rule.metric, value, rule.critical)) return 'critical';
  if (rule.warning !== null && breaches(rule.metric, value, rule.warning)) return 'warning';
  return null;
}

/**
 * One minute of a policy, purely. Rules:
 * - `value` null is "no data": nothing changes (no streak advances or resets, no transition);
 * - each minute with data extends the streak of the level it reached and resets the others;
 * - no incident open: critical for the duration opens critical, else warning (or worse) for the
 *   duration opens warning;
 * - open at warning: critical for the duration raises it to critical;
 * - open at critical: exactly warning for the duration lowers it to warning;
 * - open at any level: no breach for the duration closes it.
 * At most one transition per minute.
 */
export function stepCondition(prev: ConditionState, rule: ConditionRule, minute: number, value: number | null): { state: ConditionState; transition?: Transition } {
  if (value === null) return { state: prev };
  const level = levelOf(rule, value);
  const d = rule.durationMinutes;
  const s: ConditionState = {
    critical: level === 'critical' ? prev.critical + 1 : 0,
    warning: level !== null ? prev.warning + 1 : 0,
    warningOnly: level === 'warning' ? prev.warningOnly + 1 : 0,
    clear: level === null ? prev.clear + 1 : 0,
    open: prev.open,
    recent: [...prev.recent, [minute, value] as [number, number]].slice(-Math.min(d, 60)),
  };
  if (s.open === null) {
    if (s.critical >= d) return { state: { ...s, open: 'critical' }, transition: { kind: 'open', level: 'critical' } };
    if (s.warning >= d && rule.warning !== null) return { state: { ...s, open: 'warning' }, transition: { kind: 'open', level: 'warning' } };
    return { state: s };
  }
  if (s.clear >= d) return { state: { ...s, open: null }, transition: { kind: 'close', from: s.open } };
  if (s.open === 'warning' && s.critical >= d) return { state: { ...s, open: 'critical' }, transition: { kind: 'level', level: 'critical', from: 'warning' } };
  if (s.open === 'critical' && s.warningOnly >= d) return { state: { ...s, open: 'warning' }, transition: { kind: 'level', level: 'warning', from: 'critical' } };
  return { state: s };
}

/** Parses a stored state (JSON), tolerating an older or broken one by starting over. */
export function parseState(text: string | null | undefined): ConditionState {
  if (!text) return INITIAL_STATE;
  try {
    const v = JSON.parse(text) as Partial<ConditionState>;
    const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
    const open = v.open === 'warning' || v.open === 'critical' ? v.open : null;
    const recent = Array.isArray(v.recent) ? v.recent.filter((p): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number')) : [];
    return { critical: n(v.critical), warning: n(v.warning), warningOnly: n(v.warningOnly), clear: n(v.clear), open, recent };
  } catch {
    return INITIAL_STATE;
  }
}
