// "Did you mean ...?" hints: the closest candidate by edit distance, when it
// is close enough to be a plausible typo (TypeScript uses the same idea).

import type { Suggestion } from '../../grammar/diagnostic.ts';
import type { Span } from '../../grammar/source.ts';

/**
 * Optimal-string-alignment distance: insertions, deletions, substitutions and
 * swaps of neighbours (`bais` → `bias`) cost 1; a difference only in case
 * costs 0.5, so `dense` prefers `Dense`.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const table: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: columns }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const substitution = (x: string, y: string) => (x === y ? 0 : x.toLowerCase() === y.toLowerCase() ? 0.5 : 1);
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      let best = Math.min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + substitution(a[i - 1], b[j - 1]));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, table[i - 2][j - 2] + 1);
      table[i][j] = best;
    }
  }
  return table[a.length][b.length];
}

export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length * 0.4));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const distance = editDistance(name, candidate);
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** A hint naming the closest candidate, or listing the few that exist. */
export function didYouMean(name: string, candidates: Iterable<string>, listUpTo = 6): string | undefined {
  const all = [...new Set(candidates)];
  const closest = closestName(name, all);
  if (closest !== undefined) return `did you mean '${closest}'?`;
  if (all.length === 0) return undefined;
  if (all.length <= listUpTo) return `expected one of: ${all.map((c) => `'${c}'`).join(', ')}`;
  return undefined;
}

/**
 * A "did you mean" for a misspelt name written at `span`, as a hint and as
 * data: the hint names the closest candidate (or lists the few there are,
 * or says `otherwise`), and the suggestion is the edit that applies it.
 * `listUpTo: 0` never lists.
 */
export function suggestName(
  name: string,
  candidates: Iterable<string>,
  span: Span,
  options: { readonly listUpTo?: number; readonly otherwise?: string; readonly replacement?: (closest: string) => string } = {},
): { readonly hint?: string; readonly suggestion?: Suggestion } {
  const all = [...new Set(candidates)];
  const closest = closestName(name, all);
  const hint = didYouMean(name, all, options.listUpTo) ?? options.otherwise;
  if (closest === undefined) return hint === undefined ? {} : { hint };
  return { hint: hint!, suggestion: { span, replacement: options.replacement?.(closest) ?? closest } };
}
