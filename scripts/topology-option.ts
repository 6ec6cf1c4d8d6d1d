/** `--topology T`, as `simulate` and `bench overlay` take it. */
import { TOPOLOGIES, type TopologyName } from '../overlay/config.js';
import { optionalString, UsageError, type ParsedArgs } from './command.js';

/** The plugin `--topology` names, or undefined when not given; a name we do not run is a usage error. */
export function topologyOption(args: ParsedArgs): TopologyName | undefined {
  const topology = optionalString(args, 'topology');
  if (topology !== undefined && !(TOPOLOGIES as readonly string[]).includes(topology)) throw new UsageError(`--topology ${topology} is not one of ${TOPOLOGIES.join(', ')}`);
  return topology as TopologyName | undefined;
}
