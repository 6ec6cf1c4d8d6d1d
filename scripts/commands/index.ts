/** Every CLI command, in the order `reload-ppsp --help` lists them. */
import type { Command } from '../command.js';

export const COMMANDS: Command[] = [];
