import type { Node } from '../../overlay/node.js';

/** Pings every ordered pair through the overlay, 16 at a time; returns the failures, one line each. */
export async function allPairsPing(nodes: Node[]): Promise<string[]> {
  const pairs = nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as const));
  const failures: string[] = [];
  for (let i = 0; i < pairs.length; i += 16) {
    await Promise.all(
      pairs.slice(i, i + 16).map(async ([a, b]) => {
        try {
          const r = await a.ping(b.nodeId);
          if (r.responder !== b.nodeIdHex) failures.push(`${a.nodeIdHex} -> ${b.nodeIdHex}: answered by ${r.responder}`);
        } catch (e) {
          failures.push(`${a.nodeIdHex} -> ${b.nodeIdHex}: ${(e as Error).message}`);
        }
      }),
    );
  }
  return failures;
}
