/** `reload-ppsp ca adduser`: sets a user's enrollment password in the users file. */
import { addUser, readPasswordFile } from '../../certs/users.js';
import { requireString, type Command } from '../command.js';

export const caAddUserCommand: Command = {
  name: 'ca adduser',
  summary: 'Add an enrollment user or change their password (the users file keeps scrypt hashes only).',
  options: {
    users: { type: 'string', help: 'the users file (created with mode 0600 if absent)', valueName: 'FILE' },
    user: { type: 'string', help: 'the user name, e.g. alice@example.org', valueName: 'USER' },
    'password-file': { type: 'string', help: 'a file whose first line is the password', valueName: 'FILE' },
  },
  async run(args) {
    const usersFile = requireString(args, 'users');
    const user = requireString(args, 'user');
    const password = await readPasswordFile(requireString(args, 'password-file'));
    const outcome = await addUser(usersFile, user, password);
    process.stdout.write(`${outcome} ${user} in ${usersFile}\n`);
    return 0;
  },
};
