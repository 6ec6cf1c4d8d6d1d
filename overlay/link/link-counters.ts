/** What went through a link, for metrics: both link types count the same way. */
export class LinkCounters {
  /** Bytes received (TlsLink counts its frame prefixes too). */
  bytesIn = 0;
  /** Bytes sent. */
  bytesOut = 0;
  /** Complete messages received. */
  messagesIn = 0;
  /** Messages sent. */
  messagesOut = 0;
}
