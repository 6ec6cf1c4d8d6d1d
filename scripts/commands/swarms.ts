/** `reload-ppsp swarms` and `reload-ppsp stop SWARM-ID`: the swarms a running node holds, and stopping one. */
import { API_CLIENT_OPTIONS, apiEndpoint, callApi } from '../api-client.js';
import { printResult, UsageError, type Command } from '../command.js';
import { jsonOption, oneArg } from './swarm.js';

type SwarmSummary =
  | { swarmId: string; role: 'seed' | 'download'; path: string; complete: boolean; percent: number }
  | { swarmId: string; role: 'live-source' | 'live-viewer'; name: string | null; ended: boolean };

function line(s: SwarmSummary): string {
  if (!('path' in s)) return `${s.swarmId}  ${s.role === 'live-source' ? 'live-src' : 'live'}  ${(s.ended ? 'ended' : 'on air').padStart(8)}  ${s.name ?? ''}`;
  return `${s.swarmId}  ${s.role.padEnd(8)}  ${s.complete ? 'complete' : `${s.percent.toFixed(1)}%`.padStart(8)}  ${s.path}`;
}

export const swarmsCommand: Command = {
  name: 'swarms',
  summary: 'List the swarms a running node seeds, downloads, broadcasts or watches (ID, role, progress, file or channel name).',
  options: { ...API_CLIENT_OPTIONS, json: jsonOption },
  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`swarms takes no arguments (got "${args.positionals.join(' ')}")`);
    const { swarms } = (await callApi(apiEndpoint(args), 'GET', '/swarms')) as { swarms: SwarmSummary[] };
    const lines = swarms.map(line);
    printResult(args, swarms, lines.length > 0 ? lines.join('\n') : 'no swarms');
    return 0;
  },
};

export const stopCommand: Command = {
  name: 'stop',
  summary: 'Stop a swarm on a running node: a download keeps its partial file for a resume, a seed is no longer served.',
  args: 'SWARM-ID',
  options: { ...API_CLIENT_OPTIONS, json: jsonOption },
  async run(args) {
    const swarmId = oneArg(args, 'SWARM-ID (64 hex digits)').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(swarmId)) throw new UsageError(`"${swarmId}" is not a swarm ID (64 hex digits)`);
    const answer = await callApi(apiEndpoint(args), 'DELETE', `/swarms/${swarmId}`);
    printResult(args, answer, `stopped ${swarmId}`);
    return 0;
  },
};
