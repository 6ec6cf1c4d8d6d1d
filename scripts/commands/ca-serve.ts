/** `reload-ppsp ca serve`: runs the HTTPS enrollment server (RFC 6940 §11.3) until SIGINT/SIGTERM. */
import { startEnrollmentServer } from '../../certs/enrollment-server.js';
import { parseHostPort } from '../../overlay/config.js';
import { createLogger, stderrSink } from '../../overlay/log.js';
import { requireString, UsageError, type Command } from '../command.js';
import { untilStopSignal } from '../signals.js';

export const caServeCommand: Command = {
  name: 'ca serve',
  summary: 'Run the HTTPS enrollment server of a CA directory; its TLS certificate is issued for the --listen host.',
  options: {
    dir: { type: 'string', help: 'the CA directory from `ca init`', valueName: 'DIR' },
    listen: { type: 'string', help: 'address to listen on, e.g. 127.0.0.1:8443 (port 0: any free port)', valueName: 'HOST:PORT' },
    users: { type: 'string', help: 'the users file from `ca adduser` (re-read on each request)', valueName: 'FILE' },
  },
  async run(args) {
    const dir = requireString(args, 'dir');
    let listen;
    try {
      listen = parseHostPort(requireString(args, 'listen'), '--listen', true);
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError((e as Error).message);
    }
    const usersFile = requireString(args, 'users');
    const log = createLogger('reload:certs:enrollment', stderrSink);
    const server = await startEnrollmentServer({
      dir,
      host: listen.host,
      port: listen.port,
      usersFile,
      log: (line) => log.info(line),
    });
    const stopSignal = untilStopSignal(); // before the line a supervisor waits for, so its SIGTERM is caught
    process.stdout.write(`enrollment server listening on ${server.url}\n`);
    await stopSignal;
    await server.close();
    return 0;
  },
};
