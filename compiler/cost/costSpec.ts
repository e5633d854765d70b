// `--cost F=1,I=1.1,W=0.8,C=0.5`: uniform per-stage costs for bare
// pipelines (no .pipe file), the way papers state them. F, I, W are compute
// times per microbatch, B defaults to I + W, C is the communication time of
// every cross-device hop, A the activation units per stage (default 1).

import type { CostModel } from './types.ts';
import { MAX_MEASURED_QUANTITY } from '../limits.ts';

export interface CostSpec {
  readonly forward: number;
  readonly backwardInput: number;
  readonly backwardWeight: number;
  readonly backward: number;
  readonly comm: number;
  readonly activation: number;
}

export const UNIT_COST_SPEC: CostSpec = { forward: 1, backwardInput: 1, backwardWeight: 1, backward: 2, comm: 0, activation: 1 };

/** Parses `F=1,I=1,W=1,C=0.5`; an error message (for a usage error) when malformed. */
export function parseCostSpec(text: string): CostSpec | string {
  const values = new Map<string, number>();
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const match = /^([A-Za-z]+)\s*=\s*([0-9]*\.?[0-9]+(?:e[-+]?\d+)?)$/.exec(part);
    if (!match) return `'${part}' is not KEY=NUMBER (keys: F, I, W, B, C, A)`;
    const key = match[1].toUpperCase();
    if (!['F', 'I', 'W', 'B', 'C', 'A'].includes(key)) return `unknown cost '${match[1]}' (keys: F, I, W, B, C, A)`;
    if (values.has(key)) return `cost '${key}' given twice`;
    const value = Number(match[2]);
    // Summed over a whole schedule, a larger cost would overflow to Infinity.
    if (!(value <= MAX_MEASURED_QUANTITY)) return `cost '${key}' is ${match[2]}; at most ${MAX_MEASURED_QUANTITY} is allowed`;
    values.set(key, value);
  }
  const forward = values.get('F') ?? 1;
  const backwardInput = values.get('I') ?? (values.has('B') && !values.has('W') ? values.get('B')! / 2 : 1);
  const backwardWeight = values.get('W') ?? (values.has('B') && !values.has('I') ? values.get('B')! / 2 : 1);
  return {
    forward,
    backwardInput,
    backwardWeight,
    backward: values.get('B') ?? backwardInput + backwardWeight,
    comm: values.get('C') ?? 0,
    activation: values.get('A') ?? 1,
  };
}

export function costModelFromSpec(spec: CostSpec, stageDevice: readonly number[]): CostModel {
  const stage = {
    forward: spec.forward,
    backward: spec.backward,
    backwardInput: spec.backwardInput,
    backwardWeight: spec.backwardWeight,
    activation: spec.activation,
  };
  const n = stageDevice.length;
  const isUnit = spec.forward === 1 && spec.backwardInput === 1 && spec.backwardWeight === 1 && spec.backward === 2 && spec.comm === 0 && spec.activation === 1;
  return {
    kind: isUnit ? 'unit' : 'measured',
    stages: Array.from({ length: n }, () => stage),
    sendActivation: Array.from({ length: n }, (_, s) => (s + 1 < n && stageDevice[s + 1] !== stageDevice[s] ? spec.comm : 0)),
    sendGradient: Array.from({ length: n }, (_, s) => (s > 0 && stageDevice[s - 1] !== stageDevice[s] ? spec.comm : 0)),
  };
}
