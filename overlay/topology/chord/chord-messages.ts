/**
 * Bodies of the CHORD-RELOAD messages (RFC 6940 §10.4-10.7), in our CBOR encoding:
 *
 *   UpdateReq  = [uptime s, type (1 peer_ready, 2 neighbors, 3 full), predecessors, successors, fingers]
 *   UpdateAns  = [predecessors, successors, fingers]   (ours: the answerer's neighbours, so one
 *                exchange both tells and learns, like Chord's stabilize; its fingers only for a
 *                `full` Update, a joining peer's request for the table, whose fingers it can borrow)
 *   JoinReq    = [joining_peer_id]            JoinAns = []
 *   LeaveReq   = [leaving_peer_id, predecessors, successors]   LeaveAns = []
 *
 * Lists are arrays of 16-byte Node-IDs. Parsers refuse anything else with Invalid_Message.
 */
import { invalidMessage } from '../../errors.js';
import { idFromBytes, isValidNodeId, type Id } from '../../id.js';

export const UPDATE_PEER_READY = 1;
export const UPDATE_NEIGHBORS = 2;
export const UPDATE_FULL = 3;

/** Longest Node-ID list a Chord message may carry (the largest finger table). */
export const MAX_CHORD_LIST = 128;

export interface ChordUpdate {
  uptimeSec: number;
  type: number;
  predecessors: Id[];
  successors: Id[];
  fingers: Id[];
}

export interface ChordNeighbours {
  predecessors: Id[];
  successors: Id[];
}

function idList(value: unknown, field: string): Id[] {
  if (!Array.isArray(value) || value.length > MAX_CHORD_LIST) throw invalidMessage(`${field} must be a list of at most ${MAX_CHORD_LIST} Node-IDs`);
  return value.map((v, i) => {
    if (!(v instanceof Uint8Array) || v.length !== 16 || !isValidNodeId(v)) throw invalidMessage(`${field}[${i}] is not a Node-ID`);
    return idFromBytes(v);
  });
}

function arity(body: unknown, n: number, what: string): unknown[] {
  if (!Array.isArray(body) || body.length !== n) throw invalidMessage(`${what} body must be an array of ${n}`);
  return body;
}

function nodeIdField(value: unknown, field: string): Id {
  return idList([value], field)[0]!;
}

export const encodeUpdate = (u: ChordUpdate): unknown[] => [u.uptimeSec, u.type, u.predecessors, u.successors, u.fingers];

export function parseUpdate(body: unknown): ChordUpdate {
  const [uptimeSec, type, preds, succs, fingers] = arity(body, 5, 'UpdateReq');
  if (typeof uptimeSec !== 'number' || !Number.isInteger(uptimeSec) || uptimeSec < 0 || uptimeSec > 0xffffffff) throw invalidMessage('UpdateReq uptime must be a u32');
  if (type !== UPDATE_PEER_READY && type !== UPDATE_NEIGHBORS && type !== UPDATE_FULL) throw invalidMessage('UpdateReq type must be 1, 2 or 3');
  return { uptimeSec, type, predecessors: idList(preds, 'predecessors'), successors: idList(succs, 'successors'), fingers: idList(fingers, 'fingers') };
}

/** UpdateAns: the answerer's neighbours, and its fingers when the Update was `full`. */
export interface ChordUpdateAnswer extends ChordNeighbours {
  fingers: Id[];
}

export const encodeUpdateAnswer = (a: ChordUpdateAnswer): unknown[] => [a.predecessors, a.successors, a.fingers];

export function parseUpdateAnswer(body: unknown): ChordUpdateAnswer {
  const [preds, succs, fingers] = arity(body, 3, 'UpdateAns');
  return { predecessors: idList(preds, 'predecessors'), successors: idList(succs, 'successors'), fingers: idList(fingers, 'fingers') };
}

export function parseJoin(body: unknown): Id {
  return nodeIdField(arity(body, 1, 'JoinReq')[0], 'joining_peer_id');
}

export interface ChordLeave extends ChordNeighbours {
  leaving: Id;
}

export const encodeLeave = (l: ChordLeave): unknown[] => [l.leaving, l.predecessors, l.successors];

export function parseLeave(body: unknown): ChordLeave {
  const [leaving, preds, succs] = arity(body, 3, 'LeaveReq');
  return { leaving: nodeIdField(leaving, 'leaving_peer_id'), predecessors: idList(preds, 'predecessors'), successors: idList(succs, 'successors') };
}
