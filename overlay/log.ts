/**
 * Namespaced logging (`reload:node:topology`). Silent unless a sink is given, so library users and
 * tests see nothing they did not ask for; the CLI passes a stderr sink.
 */
import { systemClock, type Clock } from './clock.js';

/** Levels from the most to the least verbose; a logger passes its level and those after it. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(namespace: string): Logger;
}

export type LogSink = (level: LogLevel, namespace: string, msg: string) => void;

export function createLogger(namespace: string, sink?: LogSink, minLevel: LogLevel = 'info'): Logger {
  const emit = (level: LogLevel) => (msg: string) => {
    if (sink && RANK[level] >= RANK[minLevel]) sink(level, namespace, msg);
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (sub) => createLogger(`${namespace}:${sub}`, sink, minLevel),
  };
}

/**
 * One log line: `2026-12-04T22:13:14.123Z info reload:node joined` (ISO 8601, UTC). Line breaks
 * in the message are escaped, so every line of a log starts with its time and level.
 */
export function formatLogLine(timeMs: number, level: LogLevel, namespace: string, msg: string): string {
  return `${new Date(timeMs).toISOString()} ${level} ${namespace} ${msg.replace(/\r?\n/g, '\\n')}`;
}

/** A sink writing formatLogLine lines to stderr, timed by `clock`. */
export function stderrSinkOn(clock: Clock): LogSink {
  return (level, namespace, msg) => {
    process.stderr.write(formatLogLine(clock.now(), level, namespace, msg) + '\n');
  };
}

/** Log lines on stderr with the wall-clock time. */
export const stderrSink: LogSink = stderrSinkOn(systemClock);

export const silentLogger = createLogger('reload');
