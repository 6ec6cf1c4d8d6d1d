/**
 * The PPSP usage's signalling message codes. RFC 6940 keeps no private range of method codes, so
 * this project gives usages 0x4000-0x7eff (overlay/wire/codes.ts); the PPSP signalling messages
 * take the block 0x4100-0x41ff, leaving 0x4000-0x40ff to the PPSP data plane. As everywhere in
 * RELOAD, a request code is odd and its answer is the code + 1.
 *
 * | code   | message              | seed draft | body (CBOR)                                           |
 * |--------|----------------------|------------|-------------------------------------------------------|
 * | 0x4101 | PeerListReq          | §4.2.1     | [swarm (32 B), chunk / null, count, properties]       |
 * | 0x4102 | PeerListAns          | §4.2.1     | [[node-id (16 B), properties / null, transports]...]  |
 * | 0x4103 | AvailabilityReq      | §4.2.2     | [swarm]                                               |
 * | 0x4104 | AvailabilityAns      | §4.2.2     | [chunk count, [tag, payload]] (availability.ts)       |
 * | 0x4105 | PropertiesReq        | §4.2.3     | [swarm / null, properties]                            |
 * | 0x4106 | PropertiesAns        | §4.2.3     | [properties]                                          |
 * | 0x4107 | TransportReq         | §4.5       | [swarm, transports]                                   |
 * | 0x4108 | TransportAns         | §4.5       | [transports]                                          |
 * | 0x4109 | SwarmLeaveReq        | §4.2.1     | [swarm] (goodbye: drop me from your view)             |
 * | 0x410a | SwarmLeaveAns        |            | []                                                    |
 *
 * Choke and unchoke (seed §4.3) travel on the data channel, where the requests they answer are;
 * they have no signalling code.
 */
import { registerMessageCodes } from '../../../overlay/index.js';

export const PpspCode = {
  PeerListReq: 0x4101,
  PeerListAns: 0x4102,
  AvailabilityReq: 0x4103,
  AvailabilityAns: 0x4104,
  PropertiesReq: 0x4105,
  PropertiesAns: 0x4106,
  TransportReq: 0x4107,
  TransportAns: 0x4108,
  SwarmLeaveReq: 0x4109,
  SwarmLeaveAns: 0x410a,
} as const;

export type PpspCodeName = keyof typeof PpspCode;

/** Gives the codes their names in logs and metrics (`ppsp.PeerListReq`); safe to call repeatedly. */
export function registerPpspCodes(): void {
  registerMessageCodes(Object.fromEntries(Object.entries(PpspCode).map(([name, code]) => [code, `ppsp.${name}`])));
}
