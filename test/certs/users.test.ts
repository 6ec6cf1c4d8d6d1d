import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollmentError } from '../../certs/ca.js';
import { IdentityFileError } from '../../certs/identity.js';
import { addUser, assertUserName, authenticate, hashPassword, loadUsers, readPasswordFile, verifyPassword } from '../../certs/users.js';
import { rejection } from '../helpers/rejection.js';


describe('certs/users', () => {
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reload-users-'));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('hashes with a fresh salt and verifies only the right password', async () => {
    const a = await hashPassword('s3cret');
    const b = await hashPassword('s3cret');
    expect(a).to.match(/^scrypt\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(a).not.to.equal(b);
    expect(await verifyPassword('s3cret', a)).to.equal(true);
    expect(await verifyPassword('s3cret ', a)).to.equal(false);
    expect(await verifyPassword('s3cret', 's3cret')).to.equal(false); // a plain password is never a match
  });

  it('authenticate is false for an unknown user', async () => {
    const users = new Map([['alice@x.org', await hashPassword('pw')]]);
    expect(await authenticate(users, 'alice@x.org', 'pw')).to.equal(true);
    expect(await authenticate(users, 'bob@x.org', 'pw')).to.equal(false);
  });

  it('addUser creates the file with mode 0600, adds and updates entries, stores no password', async () => {
    const file = join(tmp, 'users.json');
    // Long passwords, so that a chance match inside the base64 of a hash is out of the question.
    const [one, two, three] = ['first-password-of-alice', 'only-password-of-bob', 'second-password-of-alice'];
    expect(await addUser(file, 'alice@x.org', one)).to.equal('added');
    expect(await addUser(file, 'bob@x.org', two)).to.equal('added');
    expect(await addUser(file, 'alice@x.org', three)).to.equal('updated');
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const text = await readFile(file, 'utf8');
    for (const pw of [one, two, three]) {
      expect(text).not.to.include(pw);
      expect(text).not.to.include(Buffer.from(pw).toString('base64'));
    }
    const users = await loadUsers(file);
    expect([...users.keys()]).to.deep.equal(['alice@x.org', 'bob@x.org']);
    expect(await authenticate(users, 'alice@x.org', three)).to.equal(true);
    expect(await authenticate(users, 'alice@x.org', one)).to.equal(false);
  });

  it('loadUsers refuses a missing file (unless allowed), bad JSON and plain-text entries', async () => {
    expect(await rejection(loadUsers(join(tmp, 'none.json')))).to.be.instanceOf(IdentityFileError);
    expect((await loadUsers(join(tmp, 'none.json'), { allowMissing: true })).size).to.equal(0);
    const file = join(tmp, 'plain.json');
    await writeFile(file, '{"alice@x.org": "hunter2"}');
    expect((await rejection(loadUsers(file))).message).to.match(/"alice@x.org" is not a scrypt hash/);
    await writeFile(file, '["alice"]');
    expect((await rejection(loadUsers(file))).message).to.match(/JSON object/);
  });

  it('user names: name@domain, nothing that would blur the certificate SAN', () => {
    for (const ok of ['alice@example.org', 'a.b+c@overlay-1.test', 'x@y']) expect(() => assertUserName(ok), ok).not.to.throw();
    for (const bad of ['alice', 'a b@x.org', 'a,b@x.org', 'a"b@x.org', 'alice@', '@x.org', 'a@-x.org', `${'a'.repeat(65)}@x.org`]) {
      expect(() => assertUserName(bad), bad).to.throw(EnrollmentError, /not a user name/);
    }
  });

  it('readPasswordFile takes the first line without its line ending and explains problems', async () => {
    const file = join(tmp, 'pw');
    await writeFile(file, 'pass word\r\nsecond line\n');
    expect(await readPasswordFile(file)).to.equal('pass word');
    await writeFile(file, 'no newline');
    expect(await readPasswordFile(file)).to.equal('no newline');
    await writeFile(file, '\nlater');
    expect((await rejection(readPasswordFile(file))).message).to.match(/is empty/);
    expect((await rejection(readPasswordFile(join(tmp, 'missing')))).message).to.match(/cannot read password file .*ENOENT/);
    await writeFile(file, 'x'.repeat(20_000));
    expect(await rejection(readPasswordFile(file))).to.be.instanceOf(IdentityFileError);
  });
});
