/**
 * Namespaced logging (`reload:overlay:node`). Silent unless a sink is given, so library users and
 * tests see nothing they did not ask for; the CLI passes a stderr sink.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
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

/** Lines like `info reload:overlay:node joined` on stderr. */
export const stderrSink: LogSink = (level, namespace, msg) => {
  process.stderr.write(`${level} ${namespace} ${msg}\n`);
};

export const silentLogger = createLogger('reload');
