import type { Config } from '../lib/config/config.js';
import { createLog, type Log, type LogLevel } from '../lib/log/log.js';

/** The services' root logger from APM_LOG_LEVEL and APM_LOG_FORMAT (auto: pretty in a terminal, else JSON). */
export function logFromConfig(config: Config): Log {
  const format = config.str('APM_LOG_FORMAT');
  return createLog({ level: config.str('APM_LOG_LEVEL') as LogLevel, ...(format === 'auto' ? {} : { format: format as 'json' | 'pretty' }) });
}

let cli: Log | undefined;

/** The CLI's progress lines: readable, on stderr (stdout carries the command's answer); one per process. */
export function cliLog(): Log {
  cli ??= createLog({ format: 'pretty', destination: process.stderr, level: 'info' });
  return cli;
}
