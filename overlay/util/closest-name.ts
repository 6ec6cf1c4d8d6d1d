/**
 * "Did you mean ...?" for a misspelt name: the known name nearest by edit distance. Used for
 * unknown configuration fields and unknown CLI commands.
 */

/** Levenshtein distance (insertions, deletions, substitutions), ignoring case. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // One row of the dynamic-programming table at a time: O(|t|) memory.
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[t.length]!;
}

/**
 * The known name closest to `name`, or undefined when even the closest is more edits away than
 * a third of `name`'s length (then it is no likely typo, and suggesting it would mislead:
 * "watch" is two edits from "fetch").
 * Ties go to the earlier name in `known`.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}
