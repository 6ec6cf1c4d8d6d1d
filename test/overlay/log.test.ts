import { expect } from 'chai';
import { VirtualClock } from '../../overlay/clock.js';
import { createLogger, formatLogLine, stderrSinkOn, type LogLevel } from '../../overlay/log.js';

describe('overlay/log', () => {
  it('formats a line as ISO 8601 UTC time, level, namespace and message, one line per message', () => {
    expect(formatLogLine(Date.UTC(2026, 11, 4, 22, 13, 14, 123), 'info', 'reload:node', 'joined')).to.equal('2026-12-04T22:13:14.123Z info reload:node joined');
    expect(formatLogLine(0, 'warn', 'reload', 'two\nlines\r\nhere')).to.equal('1970-01-01T00:00:00.000Z warn reload two\\nlines\\nhere');
  });

  it('the stderr sink stamps each line with its clock\'s time', () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      const log = createLogger('reload', stderrSinkOn(clock));
      log.child('node').info('hello');
      clock.advance(1500);
      log.warn('later');
    } finally {
      process.stderr.write = write;
    }
    expect(written).to.deep.equal(['2026-01-02T03:04:05.006Z info reload:node hello\n', '2026-01-02T03:04:06.506Z warn reload later\n']);
  });

  it('passes the minimum level and those above it, in children too', () => {
    const seen: string[] = [];
    const log = createLogger('r', (level, ns, msg) => seen.push(`${level} ${ns} ${msg}`), 'warn');
    for (const level of ['debug', 'info', 'warn', 'error'] as LogLevel[]) log.child('c')[level](level);
    expect(seen).to.deep.equal(['warn r:c warn', 'error r:c error']);
  });
});
