/**
 * Why a beacon was refused: each reason has one HTTP status and one label value of
 * apm_beacon_beacons_total{outcome="rejected", reason}. Browsers ignore beacon answers, so the status
 * is for people and tests; the count is what operators watch.
 */
export const REJECT_STATUS = {
  /** Body (POST) or query (GET) over APM_BEACON_MAX_BODY_BYTES. */
  too_large: 413,
  /** Not JSON, or not the payload's shape (wrong types, missing fields, unknown version). */
  bad_payload: 400,
  /** Negative, non-finite, absurd (>= 1 h) or impossibly ordered timings. */
  bad_timing: 400,
  /** The browser key matches no account. */
  bad_key: 403,
  /** The page's Origin (or Referer) is not among the application's allowed origins. */
  origin_not_allowed: 403,
  /** The account has no application of the name in data-app (the beacon never creates one). */
  unknown_app: 403,
  /** Wrong method or path. */
  bad_method: 405,
  /** Memory bounds reached (open aggregation keys, pending directory look-ups). */
  overloaded: 503,
  /** The directory could not be asked (database down). */
  unavailable: 503,
} as const;

export type RejectReason = keyof typeof REJECT_STATUS;
export const REJECT_REASONS = Object.keys(REJECT_STATUS) as RejectReason[];

export class BeaconRejection extends Error {
  override readonly name = 'BeaconRejection';
  readonly status: number;
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.status = REJECT_STATUS[reason];
  }
}
