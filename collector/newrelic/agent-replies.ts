/** Answers of the handshake methods. Every answer body is `{"return_value": …}`. */

export interface ConnectReplyInput {
  runId: string;
  accountId: number;
  /** Applications in the order the agent named them; the first is primary. */
  applications: Array<{ id: number; name: string; apdexT: number }>;
  eventPeriodMs: number;
  maxPayloadBytes: number;
}

/**
 * The connect answer. `agent_run_id` is the only field the agent requires; the rest set harvest
 * behaviour. Event limits are per period, scaled from the New Relic defaults per minute.
 */
export function connectReply(input: ConnectReplyInput): { return_value: Record<string, unknown> } {
  const primary = input.applications[0]!;
  const per = (perMinute: number) => Math.max(1, Math.round((perMinute * input.eventPeriodMs) / 60_000));
  const names = input.applications.map((a) => `${a.name} (application ${a.id})`).join(', ');
  return {
    return_value: {
      agent_run_id: input.runId,
      messages: [{ message: `Reporting to apm-pipeline collector: account ${input.accountId}, ${names}`, level: 'INFO' }],
      account_id: String(input.accountId),
      application_id: String(primary.id),
      primary_application_id: String(primary.id),
      trusted_account_key: String(input.accountId),
      apdex_t: primary.apdexT,
      collect_errors: true,
      collect_traces: true,
      collect_analytics_events: true,
      collect_custom_events: true,
      collect_error_events: true,
      collect_span_events: true,
      data_report_period: 60,
      max_payload_size_in_bytes: input.maxPayloadBytes,
      sampling_target: 10,
      sampling_target_period_in_seconds: 60,
      event_harvest_config: {
        report_period_ms: input.eventPeriodMs,
        harvest_limits: {
          analytic_event_data: per(10_000),
          custom_event_data: per(3_000),
          error_event_data: per(100),
          log_event_data: per(10_000),
        },
      },
      span_event_harvest_config: { report_period_ms: input.eventPeriodMs, harvest_limit: per(2_000) },
    },
  };
}

/**
 * Where preconnect sends the agent: the configured public address, else the host the agent used
 * (the agent sends Host without a port) with our port. A junk Host falls back to `fallbackHost`.
 */
export function redirectHost(publicAddress: string | undefined, hostHeader: string, port: number, fallbackHost: string): string {
  if (publicAddress !== undefined) return publicAddress;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::[0-9]{1,5})?$/.exec(hostHeader.trim());
  const host = m ? m[1]! : fallbackHost.includes(':') ? `[${fallbackHost}]` : fallbackHost;
  return `${host}:${port}`;
}

export function preconnectReply(redirect: string): { return_value: Record<string, unknown> } {
  return { return_value: { redirect_host: redirect, security_policies: {} } };
}

/** Success of every other method. */
export const NULL_REPLY = { return_value: null } as const;

/** Error body in the collector's own shape; the agent only looks at the status code. */
export function exceptionReply(status: number, message: string): { exception: { message: string; error_type: string } } {
  const type =
    status === 401 || status === 403
      ? 'NewRelic::Agent::LicenseException'
      : status === 413
        ? 'NewRelic::Agent::PayloadTooLarge'
        : status === 503 || status === 429
          ? 'NewRelic::Agent::ServiceUnavailable'
          : status >= 500
            ? 'NewRelic::Agent::InternalError'
            : 'NewRelic::Agent::InvalidPayload';
  return { exception: { message, error_type: type } };
}
