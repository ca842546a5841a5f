import { InputError } from '../errors.js';

/**
 * Late data never outlives the minute retention (issue #18 part 5; schema/README.md, "Late data and
 * retention"). A minute table is dropped `minuteDays` after its hour ended; a write into such an
 * hour would recreate the table, and the next rollup would replace the retained hour and day rows
 * with the late part alone. So every edge refuses rows whose hour is past the account's minute
 * retention (400, counted as past_retention), APM_COLLECTOR_MAX_AGE_SECONDS must stay below the
 * shortest minute retention, and the rollup never re-rolls an hour past retention that was rolled.
 */
export class PastRetentionError extends InputError {
  readonly reason = 'past_retention';
}

/** True when the minute table holding `minute` (its hour) is past a minute retention of `minuteDays`. */
export function pastMinuteRetention(minute: number, minuteDays: number, now: number): boolean {
  const hourEnd = Math.floor(minute / 3600) * 3600 + 3600;
  return hourEnd + minuteDays * 86400 <= now;
}

/** Throws PastRetentionError naming `what` when `minute` is past the retention. */
export function checkMinuteRetention(what: string, minute: number, minuteDays: number, now: number): void {
  if (pastMinuteRetention(minute, minuteDays, now)) {
    throw new PastRetentionError(
      `cannot accept ${what}: its minute ${new Date(minute * 1000).toISOString()} is past the account's minute retention (${minuteDays} days): its table is already purged`,
    );
  }
}

/** Why a max age (seconds) is not below the shortest minute retention (days), or undefined. */
export function maxAgeProblem(maxAgeSeconds: number, shortestMinuteDays: number): string | undefined {
  if (maxAgeSeconds < shortestMinuteDays * 86400 - 3600) return undefined;
  return (
    `cannot configure collector: APM_COLLECTOR_MAX_AGE_SECONDS (${maxAgeSeconds}) must be below the shortest minute retention of any plan ` +
    `(${shortestMinuteDays} days, less the hour a minute table spans = ${shortestMinuteDays * 86400 - 3600} s): late data would recreate purged minute tables`
  );
}
