/** `reload-ppsp ca init`: creates the overlay's root CA and its configuration document. */
import { initCaDir } from '../../certs/ca-dir.js';
import { printResult, requireString, type Command } from '../command.js';

export const caInitCommand: Command = {
  name: 'ca init',
  summary: 'Create a root CA and the overlay configuration naming it (ca.crt, ca.key, overlay.json).',
  options: {
    dir: { type: 'string', help: 'the CA directory to create', valueName: 'DIR' },
    overlay: { type: 'string', help: 'the overlay name, e.g. example.org', valueName: 'NAME' },
    force: { type: 'boolean', help: 'replace an existing CA (identities it issued stop being trusted)' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  async run(args) {
    const dir = requireString(args, 'dir');
    const overlay = requireString(args, 'overlay');
    const r = await initCaDir(dir, overlay, { force: args.values.force === true });
    printResult(
      args,
      { dir, overlay: r.overlay, caCert: r.files.caCert, caKey: r.files.caKey, config: r.files.config },
      [
        `created the CA of overlay ${r.overlay} in ${dir}:`,
        `  ${r.files.caCert}  root certificate`,
        `  ${r.files.caKey}  root key (mode 0600: keep it secret)`,
        `  ${r.files.config}  overlay configuration; give it to every node`,
      ].join('\n'),
    );
    return 0;
  },
};
