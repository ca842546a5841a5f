/** Most minutes one policy catches up on in a run (after downtime the older ones are skipped). */
export const MAX_CATCH_UP_MINUTES = 60;

/**
 * The minutes (starts, Unix seconds, oldest first) a policy evaluates at `now`, purely. Rules:
 * - a minute is due once it has ended at least `settleSeconds` ago;
 * - minutes after `lastMinute` (the last one evaluated), at most MAX_CATCH_UP_MINUTES, newest kept;
 * - a new policy (lastMinute 0) starts with the last `durationMinutes` due minutes, so a condition
 *   that already holds opens an incident on its first run.
 */
export function minutesToEvaluate(p: { lastMinute: number; durationMinutes: number }, now: number, settleSeconds: number): number[] {
  const latest = Math.floor((now - settleSeconds) / 60) * 60 - 60;
  const back = p.lastMinute > 0 ? Math.min((latest - p.lastMinute) / 60, MAX_CATCH_UP_MINUTES) : Math.min(p.durationMinutes, MAX_CATCH_UP_MINUTES);
  const out: number[] = [];
  for (let i = back - 1; i >= 0; i--) out.push(latest - i * 60);
  return out;
}
