// "Did you mean ...?" hints: the closest candidate by edit distance, when it
// is close enough to be a plausible typo (TypeScript uses the same idea).

export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j];
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? (a[i - 1] === b[j - 1] ? 0 : 0.5) : 1;
      previous[j] = Math.min(previous[j] + 1, previous[j - 1] + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length];
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
