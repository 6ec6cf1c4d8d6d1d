import { expect } from 'chai';
import { UsageError, type ParsedArgs } from '../../scripts/command.js';
import { logLevelOf } from '../../scripts/log-options.js';

describe('scripts/log-options', () => {
  it('--log-level and --verbose: the level asked for, info by default, contradictions refused', () => {
    const args = (values: ParsedArgs['values']): ParsedArgs => ({ values, positionals: [] });
    expect(logLevelOf(args({}))).to.equal('info');
    expect(logLevelOf(args({ verbose: true }))).to.equal('debug');
    expect(logLevelOf(args({ 'log-level': 'warn' }))).to.equal('warn');
    expect(logLevelOf(args({ 'log-level': 'debug', verbose: true }))).to.equal('debug');
    expect(() => logLevelOf(args({ 'log-level': 'loud' }))).to.throw(UsageError, '--log-level must be one of debug, info, warn, error, not "loud"');
    expect(() => logLevelOf(args({ 'log-level': 'error', verbose: true }))).to.throw(UsageError, /contradicts --log-level error/);
  });
});
