import { expect } from 'chai';
import { integerOption, parseCommandArgs, parseInteger, UsageError, type Command, type ParsedArgs } from '../../scripts/command.js';

const cmd = (args?: string): Command => ({
  name: 'try',
  summary: 'a command for the test',
  args,
  options: { n: { type: 'string', help: 'a number' }, text: { type: 'string', help: 'some text' }, flag: { type: 'boolean', help: 'a switch' } },
  run: async () => 0,
});
const parsed = (c: Command, argv: string[]) => parseCommandArgs(c, argv) as ParsedArgs;

describe('scripts/command', () => {
  it('parseInteger takes decimal integers within the range and names the flag otherwise', () => {
    expect(parseInteger('0', '--n', { min: 0, max: 5 })).to.equal(0);
    expect(parseInteger('05', '--n', { min: 0, max: 5 })).to.equal(5);
    expect(parseInteger('-3', '--n', { min: -5, max: 5 })).to.equal(-3);
    for (const bad of ['', ' 1', '1 ', '+1', '1.0', '1e3', '0x10', 'abc', '6', '-1', '99999999999999999999']) {
      expect(() => parseInteger(bad, '--n', { min: 0, max: 5 }), JSON.stringify(bad)).to.throw(UsageError, `--n must be an integer from 0 to 5, not ${JSON.stringify(bad)}`);
    }
  });

  it('integerOption: undefined or the fallback when the flag is absent', () => {
    const args = parsed(cmd(), []);
    expect(integerOption(args, 'n', { min: 1, max: 9 })).to.equal(undefined);
    expect(integerOption(args, 'n', { min: 1, max: 9 }, 4)).to.equal(4);
    expect(integerOption(parsed(cmd(), ['--n', '7']), 'n', { min: 1, max: 9 }, 4)).to.equal(7);
  });

  it('a value that reads as a negative number goes to its string flag; after -- everything is positional', () => {
    expect(parsed(cmd(), ['--n', '-1', '--text', '-5']).values).to.include({ n: '-1', text: '-5' });
    expect(parsed(cmd('A B'), ['--', '--n', '-1']).positionals).to.deep.equal(['--n', '-1']);
    // Not after a boolean flag: there it is an unknown short option, as before.
    expect(() => parseCommandArgs(cmd(), ['--flag', '-1'])).to.throw(UsageError, /Unknown option '-1'/);
  });

  it('refuses positional arguments beyond those cmd.args names, naming them', () => {
    expect(parsed(cmd('FILE'), ['a']).positionals).to.deep.equal(['a']);
    expect(parsed(cmd('FILE'), []).positionals).to.deep.equal([]);
    expect(() => parseCommandArgs(cmd(), ['x'])).to.throw(UsageError, 'try takes no arguments; unexpected "x" (see reload-ppsp try --help)');
    expect(() => parseCommandArgs(cmd('FILE'), ['a', 'b', 'c'])).to.throw(UsageError, 'try takes only FILE; unexpected "b" "c"');
  });
});
