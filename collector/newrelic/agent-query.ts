import { AuthError, InputError } from '../../lib/errors.js';
import { isAgentMethod, isHandshakeMethod, type AgentMethod } from './agent-methods.js';

/** What the query string of `/agent_listener/invoke_raw_method` says. */
export interface AgentQuery {
  method: AgentMethod;
  licenseKey: string;
  /** Present for every method after connect. */
  runId: string | undefined;
}

export const AGENT_LISTENER_PATH = '/agent_listener/invoke_raw_method';
const PRINTABLE = /^[\x21-\x7e]+$/;
const MAX_KEY_CHARS = 128;
const MAX_RUN_ID_CHARS = 512;

/**
 * Parses and checks the query string (without the leading '?'). Bad protocol details are 400;
 * a missing license key or a missing run id where one is needed is 401 (the agent reconnects).
 */
export function parseAgentQuery(query: string): AgentQuery {
  const q = new URLSearchParams(query);
  const method = q.get('method');
  if (method === null || method === '') throw new InputError('cannot invoke agent method: the query has no method parameter');
  if (!isAgentMethod(method)) throw new InputError(`cannot invoke agent method ${JSON.stringify(method.slice(0, 64))}: unknown method`);
  const protocol = q.get('protocol_version');
  if (protocol !== '17') {
    throw new InputError(`cannot invoke ${method}: protocol_version must be 17, got ${JSON.stringify((protocol ?? '').slice(0, 16))}`);
  }
  const format = q.get('marshal_format');
  if (format !== null && format !== 'json') {
    throw new InputError(`cannot invoke ${method}: marshal_format must be json, got ${JSON.stringify(format.slice(0, 16))}`);
  }
  const licenseKey = q.get('license_key') ?? '';
  if (licenseKey.length === 0 || licenseKey.length > MAX_KEY_CHARS || !PRINTABLE.test(licenseKey)) {
    throw new AuthError(`cannot invoke ${method}: missing or malformed license_key`);
  }
  const runId = q.get('run_id') ?? undefined;
  if (!isHandshakeMethod(method)) {
    if (runId === undefined || runId.length === 0) throw new AuthError(`cannot invoke ${method}: missing run_id (connect first)`);
  }
  if (runId !== undefined && (runId.length > MAX_RUN_ID_CHARS || !PRINTABLE.test(runId))) {
    throw new AuthError(`cannot invoke ${method}: malformed run_id`);
  }
  return { method, licenseKey, runId: isHandshakeMethod(method) ? undefined : runId };
}
