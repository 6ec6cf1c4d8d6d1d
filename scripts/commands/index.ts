/** Every CLI command, in the order `reload-ppsp --help` lists them. */
import type { Command } from '../command.js';
import { caAddUserCommand } from './ca-adduser.js';
import { caInitCommand } from './ca-init.js';
import { caServeCommand } from './ca-serve.js';
import { enrollCommand } from './enroll.js';

export const COMMANDS: Command[] = [caInitCommand, caAddUserCommand, caServeCommand, enrollCommand];
