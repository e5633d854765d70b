// Seeded randomness that depends only on explicit keys, never on call order,
// so a pipeline run (parameters spread over devices, microbatches in any
// order) and a single-device run draw exactly the same numbers.

/** 32-bit FNV-1a hash of a string, mixed with a seed. */
export function hashKey(seed: number, ...parts: readonly (string | number)[]): number {
  let hash = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (const part of parts) {
    const text = `${part}\u0000`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return hash >>> 0;
}

/** mulberry32: small, fast, good enough for initialisation, shuffles and dropout masks. */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function fillUniform(out: Float32Array, seed: number, low: number, high: number): Float32Array {
  const random = makeRandom(seed);
  for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * random();
  return out;
}

export function fillNormal(out: Float32Array, seed: number, std: number): Float32Array {
  const random = makeRandom(seed);
  for (let i = 0; i < out.length; i += 2) {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const radius = Math.sqrt(-2 * Math.log(1 - random())) * std;
    const angle = 2 * Math.PI * random();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Fisher-Yates permutation of 0..n-1 from a seed. */
export function seededPermutation(n: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = makeRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  return order;
}
