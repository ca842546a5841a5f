/**
 * The agent protocol 17 methods this collector answers, by what it does with them.
 * - handshake: preconnect, connect (no run id yet)
 * - run: agent_settings, metric_data, shutdown (need a valid run id)
 * - ignored data: answered 200 so the agent carries on, counted in self-metrics, not stored — except
 *   analytic_event_data, whose Transaction events' durations become distributions (transaction-events.ts)
 */
export const HANDSHAKE_METHODS = ['preconnect', 'connect'] as const;
export const RUN_METHODS = ['agent_settings', 'metric_data', 'shutdown'] as const;
export const IGNORED_DATA_METHODS = [
  'error_data',
  'transaction_sample_data',
  'sql_trace_data',
  'analytic_event_data',
  'custom_event_data',
  'error_event_data',
  'span_event_data',
  'log_event_data',
  'pprof_data',
  'profile_data',
] as const;

export type HandshakeMethod = (typeof HANDSHAKE_METHODS)[number];
export type RunMethod = (typeof RUN_METHODS)[number];
export type IgnoredDataMethod = (typeof IGNORED_DATA_METHODS)[number];
export type AgentMethod = HandshakeMethod | RunMethod | IgnoredDataMethod;

export const AGENT_METHODS: readonly AgentMethod[] = [...HANDSHAKE_METHODS, ...RUN_METHODS, ...IGNORED_DATA_METHODS];
const KNOWN = new Set<string>(AGENT_METHODS);

export function isAgentMethod(name: string): name is AgentMethod {
  return KNOWN.has(name);
}

export function isHandshakeMethod(m: AgentMethod): m is HandshakeMethod {
  return m === 'preconnect' || m === 'connect';
}
