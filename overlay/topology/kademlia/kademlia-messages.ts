/**
 * Bodies of the Kademlia plugin's messages (RFC 6940 §6.4.2 leaves Update, Join and Leave bodies to
 * the topology plugin), in our CBOR encoding:
 *
 *   UpdateReq  = [want, announce, siblings]
 *                want: a 16-byte id the sender looks for (its own Node-ID at join, a random id in a
 *                bucket's range when refreshing); announce: true when the sender asks to be added
 *                (it is a peer and the request came over its own link); siblings: the sender's
 *                XOR-closest peers, so one exchange both tells and learns.
 *   UpdateAns  = [closest]   the answerer's known nodes XOR-closest to `want`, itself included
 *                (Kademlia's FIND_NODE answer)
 *   JoinReq    = [joining_peer_id]                     JoinAns  = []
 *   LeaveReq   = [leaving_peer_id, siblings]           LeaveAns = []
 *
 * Lists are arrays of 16-byte Node-IDs. Parsers refuse anything else with Invalid_Message.
 */
import { invalidMessage } from '../../errors.js';
import { ID_BYTES, idFromBytes, isValidNodeId, type Id } from '../../id.js';

/** Longest Node-ID list a Kademlia message may carry (the largest k and sibling list). */
export const MAX_KADEMLIA_LIST = 64;

export interface KademliaUpdate {
  want: Id;
  announce: boolean;
  siblings: Id[];
}

export interface KademliaLeave {
  leaving: Id;
  siblings: Id[];
}

function idList(value: unknown, field: string): Id[] {
  if (!Array.isArray(value) || value.length > MAX_KADEMLIA_LIST) throw invalidMessage(`${field} must be a list of at most ${MAX_KADEMLIA_LIST} Node-IDs`);
  return value.map((v, i) => nodeId(v, `${field}[${i}]`));
}

function nodeId(value: unknown, field: string): Id {
  if (!(value instanceof Uint8Array) || value.length !== ID_BYTES || !isValidNodeId(value)) throw invalidMessage(`${field} is not a Node-ID`);
  return idFromBytes(value);
}

function arity(body: unknown, n: number, what: string): unknown[] {
  if (!Array.isArray(body) || body.length !== n) throw invalidMessage(`${what} body must be an array of ${n}`);
  return body;
}

export const encodeUpdate = (u: KademliaUpdate): unknown[] => [u.want, u.announce, u.siblings];

export function parseUpdate(body: unknown): KademliaUpdate {
  const [want, announce, siblings] = arity(body, 3, 'UpdateReq');
  // `want` may be any point of the id space (a refresh draws one at random), not only a Node-ID.
  if (!(want instanceof Uint8Array) || want.length !== ID_BYTES) throw invalidMessage(`UpdateReq want must be ${ID_BYTES} bytes`);
  if (typeof announce !== 'boolean') throw invalidMessage('UpdateReq announce must be a boolean');
  return { want: idFromBytes(want), announce, siblings: idList(siblings, 'siblings') };
}

export const encodeUpdateAnswer = (closest: Id[]): unknown[] => [closest];

export function parseUpdateAnswer(body: unknown): Id[] {
  return idList(arity(body, 1, 'UpdateAns')[0], 'closest');
}

export function parseJoin(body: unknown): Id {
  return nodeId(arity(body, 1, 'JoinReq')[0], 'joining_peer_id');
}

export const encodeLeave = (l: KademliaLeave): unknown[] => [l.leaving, l.siblings];

export function parseLeave(body: unknown): KademliaLeave {
  const [leaving, siblings] = arity(body, 2, 'LeaveReq');
  return { leaving: nodeId(leaving, 'leaving_peer_id'), siblings: idList(siblings, 'siblings') };
}
