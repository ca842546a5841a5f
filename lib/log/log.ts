import pino from 'pino';
import pretty from 'pino-pretty';
import { RepeatLimiter } from './repeat-limiter.js';

/**
 * The one logger of every service: pino, with levels, one JSON object per line in production and a
 * readable coloured line in a terminal. Every line carries `service` (set by the service's child
 * logger), `pid`, `hostname` and `time`; details go in fields, not in the text. Repeated warnings and
 * errors are rate-limited (RepeatLimiter): a shard that is down does not write a line per request.
 * Keys are never logged (a key's first characters at most).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Log {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `bindings` (e.g. `{ service: 'collector' }`). */
  child(bindings: LogFields): Log;
}

export interface LogOptions {
  level?: LogLevel;
  /** json: one object per line; pretty: for a terminal. Default: pretty when stdout is a TTY. */
  format?: 'json' | 'pretty';
  /** Where lines go (default stdout); anything with write(string). */
  destination?: { write(line: string): unknown };
  /** Window of the repeat limiter in ms (0: no limit). */
  repeatWindowMs?: number;
  nowMs?: () => number;
}

export function createLog(o: LogOptions = {}): Log {
  const format = o.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const destination = o.destination ?? process.stdout;
  const stream = format === 'pretty' ? pretty({ destination: destination as NodeJS.WritableStream, sync: true, colorize: destination === process.stdout && process.stdout.isTTY, ignore: 'pid,hostname,service', messageFormat: '[{service}] {msg}', singleLine: true, translateTime: 'HH:MM:ss' }) : destination;
  const root = pino({ level: o.level ?? 'info', base: { pid: process.pid, hostname: undefined }, timestamp: pino.stdTimeFunctions.isoTime }, stream as pino.DestinationStream);
  const limiter = o.repeatWindowMs === 0 ? undefined : new RepeatLimiter(o.repeatWindowMs ?? 10_000);
  return wrap(root, limiter, o.nowMs ?? Date.now);
}

function wrap(p: pino.Logger, limiter: RepeatLimiter | undefined, nowMs: () => number): Log {
  const limited = (level: 'warn' | 'error') => (msg: string, fields?: LogFields) => {
    if (!p.isLevelEnabled(level)) return;
    const repeated = limiter ? limiter.admit(level, msg, nowMs()) : 0;
    if (repeated === undefined) return;
    p[level](repeated > 0 ? { ...fields, repeated } : (fields ?? {}), msg);
  };
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: limited('warn'),
    error: limited('error'),
    child: (bindings) => wrap(p.child(bindings), limiter, nowMs),
  };
}

/** A logger that writes nothing (tests, tools that stay quiet). */
export const silentLog: Log = createLog({ level: 'silent', format: 'json', repeatWindowMs: 0 });

/**
 * A logger that hands each line's message to `write` (the bench's progress output, tests that read
 * what a service logged). No repeat limit: every line arrives.
 */
export function lineLog(write: (line: string) => void, level: LogLevel = 'info'): Log {
  return createLog({
    level,
    format: 'json',
    repeatWindowMs: 0,
    destination: {
      write(json: string) {
        write((JSON.parse(json) as { msg?: string }).msg ?? '');
      },
    },
  });
}
