import { InputError } from '../../lib/errors.js';
import { nameProblem, shown } from './metric-name-check.js';

/** What connect tells us about the agent: where it runs and which applications it reports to. */
export interface ConnectRequest {
  /** 1 to MAX_APP_NAMES distinct names; the first is the primary application. */
  appNames: string[];
  host: string;
  pid: number;
  language: string;
  agentVersion: string;
}

/** The New Relic agents allow up to three names (one application plus two roll-ups). */
export const MAX_APP_NAMES = 3;

const fail = (why: string) => new InputError(`cannot connect agent: ${why}`);

/** Validates the connect body `[ {pid, host, language, app_name: […], agent_version, …} ]`. */
export function parseConnectRequest(body: unknown): ConnectRequest {
  if (!Array.isArray(body) || body.length < 1 || typeof body[0] !== 'object' || body[0] === null || Array.isArray(body[0])) {
    throw fail('body must be [ {agent facts} ]');
  }
  const f = body[0] as Record<string, unknown>;
  const appNames = parseAppNames(f.app_name);
  const hostWhy = nameProblem(f.host, false);
  if (hostWhy) throw fail(`host ${hostWhy}`);
  if (typeof f.pid !== 'number' || !Number.isSafeInteger(f.pid) || f.pid < 0 || f.pid > 4_294_967_295) throw fail('pid must be a whole number >= 0');
  const language = f.language;
  if (typeof language !== 'string' || !/^[A-Za-z0-9_.-]{1,32}$/.test(language)) throw fail('language must be a short name like "nodejs"');
  const version = typeof f.agent_version === 'string' ? f.agent_version.slice(0, 64) : '';
  return { appNames, host: f.host as string, pid: f.pid, language, agentVersion: version };
}

function parseAppNames(raw: unknown): string[] {
  // Some agents send one string with names separated by ';'.
  const list = typeof raw === 'string' ? raw.split(';') : raw;
  if (!Array.isArray(list) || list.length === 0) throw fail('app_name must be a non-empty list of application names');
  const names: string[] = [];
  for (const item of list) {
    const name = typeof item === 'string' ? item.trim() : item;
    const why = nameProblem(name, false);
    if (why) throw fail(`app_name ${typeof name === 'string' ? shown(name) : ''} ${why}`.replace('  ', ' '));
    if (!names.includes(name as string)) names.push(name as string);
  }
  if (names.length > MAX_APP_NAMES) throw fail(`${names.length} application names, at most ${MAX_APP_NAMES}`);
  return names;
}
