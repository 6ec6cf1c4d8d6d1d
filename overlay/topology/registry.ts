/**
 * The topology plugins this node can run, by the name the overlay configuration gives
 * (`topology`, RFC 6940 §11.1 topology-plugin). A client runs none: it reaches the overlay through
 * one peer whatever the overlay's plugin is (§3.2).
 */
import type { TopologyName } from '../config.js';
import { ChordTopology } from './chord/chord-topology.js';
import { ClientTopology } from './client-topology.js';
import { KademliaTopology } from './kademlia/kademlia-topology.js';
import type { Topology, TopologyHost } from './topology.js';

const PLUGINS: Record<TopologyName, (host: TopologyHost) => Topology> = {
  'CHORD-RELOAD': (host) => new ChordTopology(host),
  KADEMLIA: (host) => new KademliaTopology(host),
};

/** The plugin `host.config.topology` names, or the client's when `client`. */
export function createTopology(host: TopologyHost, client: boolean): Topology {
  return client ? new ClientTopology(host) : PLUGINS[host.config.topology](host);
}
