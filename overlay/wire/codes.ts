/**
 * RELOAD message codes (RFC 6940 §14.8). Requests are odd, the answer is request + 1, and 0xFFFF
 * is the error response. Usages register further codes at run time (see `registerMessageCodes`);
 * the RFC keeps no private range, so ours start at 0x4000, far from the assigned ones, and
 * 0x7f00-0x7ffe is kept for this project's own overlay methods (NAT traversal).
 */

export enum MessageCode {
  ProbeReq = 0x01,
  ProbeAns = 0x02,
  AttachReq = 0x03,
  AttachAns = 0x04,
  StoreReq = 0x07,
  StoreAns = 0x08,
  FetchReq = 0x09,
  FetchAns = 0x0a,
  FindReq = 0x0d,
  FindAns = 0x0e,
  JoinReq = 0x0f,
  JoinAns = 0x10,
  LeaveReq = 0x11,
  LeaveAns = 0x12,
  UpdateReq = 0x13,
  UpdateAns = 0x14,
  RouteQueryReq = 0x15,
  RouteQueryAns = 0x16,
  PingReq = 0x17,
  PingAns = 0x18,
  StatReq = 0x19,
  StatAns = 0x1a,
  AppAttachReq = 0x1d,
  AppAttachAns = 0x1e,
  ConfigUpdateReq = 0x21,
  ConfigUpdateAns = 0x22,
  /** This project's own overlay methods, at the top of the range it keeps for itself (below). */
  ReachabilityReq = 0x7f01,
  ReachabilityAns = 0x7f02,
  RelayReserveReq = 0x7f03,
  RelayReserveAns = 0x7f04,
  RelayIncomingReq = 0x7f05,
  RelayIncomingAns = 0x7f06,
  Error = 0xffff,
}

/** First code a usage may register (this project's convention, documented in the README). */
export const USAGE_CODE_MIN = 0x4000;
/** Last code a usage may register; 0x7f00-0x7ffe are the overlay's own, 0x8000-0xFFFE RFC 6940's. */
export const USAGE_CODE_MAX = 0x7eff;

export function isRequestCode(code: number): boolean {
  return code !== MessageCode.Error && code % 2 === 1;
}

export function answerCodeOf(requestCode: number): number {
  return requestCode + 1;
}

const usageNames = new Map<number, string>();

/** Gives a usage's codes a name in logs and metrics; the range check keeps them off RFC codes. */
export function registerMessageCodes(names: Record<number, string>): void {
  for (const [codeText, name] of Object.entries(names)) {
    const code = Number(codeText);
    if (code < USAGE_CODE_MIN || code > USAGE_CODE_MAX) throw new RangeError(`usage message code 0x${code.toString(16)} is outside 0x4000-0x7eff`);
    usageNames.set(code, name);
  }
}

export function messageCodeName(code: number): string {
  return MessageCode[code] ?? usageNames.get(code) ?? `0x${code.toString(16).padStart(4, '0')}`;
}
