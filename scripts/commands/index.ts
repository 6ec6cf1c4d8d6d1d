/** Every CLI command, in the order `reload-ppsp --help` lists them. */
import type { Command } from '../command.js';
import { getCommand, seedCommand } from './swarm.js';
import { watchCommand } from './watch.js';
import { liveCommand } from './live.js';
import { stopCommand, swarmsCommand } from './swarms.js';
import { caAddUserCommand } from './ca-adduser.js';
import { caInitCommand } from './ca-init.js';
import { caServeCommand } from './ca-serve.js';
import { enrollCommand } from './enroll.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { nodeCommand } from './node.js';
import { routeCommand } from './route.js';
import { simulateCommand } from './simulate.js';
import { pingCommand, statusCommand } from './status.js';
import { STORAGE_COMMANDS } from './storage.js';

export const COMMANDS: Command[] = [caInitCommand, caAddUserCommand, caServeCommand, enrollCommand, nodeCommand, statusCommand, pingCommand, routeCommand, ...STORAGE_COMMANDS, seedCommand, getCommand, watchCommand, liveCommand, swarmsCommand, stopCommand, demoCommand, benchCommand, simulateCommand];
