/** Counting the messages that keep a topology's routing state, for the simulator and the overlay bench. */
import type { Node } from '../overlay/node.js';
import { MessageCode } from '../overlay/wire/codes.js';

/** The topology maintenance messages: what keeps the routing state, whichever plugin runs. */
export const MAINTENANCE_CODES = [
  MessageCode.UpdateReq, MessageCode.UpdateAns, MessageCode.JoinReq, MessageCode.JoinAns, MessageCode.LeaveReq, MessageCode.LeaveAns,
  MessageCode.AttachReq, MessageCode.AttachAns, MessageCode.PingReq, MessageCode.PingAns, MessageCode.ProbeReq, MessageCode.ProbeAns,
];

/** Maintenance messages `node` has sent since it started. */
export function maintenanceSent(node: Node): number {
  return MAINTENANCE_CODES.reduce((sum, code) => sum + node.metrics.messagesSent(code), 0);
}
