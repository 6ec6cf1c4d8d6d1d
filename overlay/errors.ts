/**
 * The RELOAD error codes (RFC 6940 §6.3.3.1, §14.9) and the one error type every layer throws for
 * bad input. Defined once, here: the wire, links, routing, storage and the API all map through it.
 */

export enum ErrorCode {
  Forbidden = 0x02,
  Not_Found = 0x03,
  Request_Timeout = 0x04,
  Generation_Counter_Too_Low = 0x05,
  Incompatible_with_Overlay = 0x06,
  Unsupported_Forwarding_Option = 0x07,
  Data_Too_Large = 0x08,
  Data_Too_Old = 0x09,
  TTL_Exceeded = 0x0a,
  Message_Too_Large = 0x0b,
  Unknown_Kind = 0x0c,
  Unknown_Extension = 0x0d,
  Response_Too_Large = 0x0e,
  Config_Too_Old = 0x0f,
  Config_Too_New = 0x10,
  In_Progress = 0x11,
  Exp_A = 0x12,
  Exp_B = 0x13,
  Invalid_Message = 0x14,
}

/** The RFC's name of a code (e.g. "Forbidden"), or `Error_0x..` for a code we do not know. */
export function errorName(code: number): string {
  return ErrorCode[code] ?? `Error_0x${code.toString(16).padStart(2, '0')}`;
}

export function isKnownErrorCode(code: number): code is ErrorCode {
  return typeof code === 'number' && ErrorCode[code] !== undefined;
}

/**
 * A refusal with a RELOAD error code. `reason` is a short machine-readable tag that tells apart
 * failures sharing a code (e.g. Forbidden for `bad_signature` vs `untrusted_certificate`).
 */
export class ReloadError extends Error {
  override name = 'ReloadError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly reason: string = errorName(code).toLowerCase(),
  ) {
    super(`${errorName(code)}: ${message}`);
  }

  get codeName(): string {
    return errorName(this.code);
  }
}

export function isReloadError(e: unknown): e is ReloadError {
  return e instanceof ReloadError;
}

/** Shorthand for the most common refusal of untrusted bytes. */
export function invalidMessage(message: string, reason = 'invalid_message'): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, reason);
}
