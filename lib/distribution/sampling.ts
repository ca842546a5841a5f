/**
 * Distributions estimated from a sample (the New Relic agent's transaction events): how many events
 * the agent saw and how many it sent are stored as the call counts of these timeslice metrics, per
 * minute of the payload's newest event, application-wide and per agent (collector/newrelic/
 * transaction-events.ts), so readers can say "estimated from N of M transactions".
 */
export const SAMPLING_METRICS = { seen: 'Supportability/TransactionEvents/Seen', sent: 'Supportability/TransactionEvents/Sent' } as const;
