// Per-stage costs for one microbatch: the catalog's per-example layer costs
// summed over the stage and multiplied by the microbatch size.

import { bytesPerExample } from '../layers/catalog.ts';
import type { CheckedLayer, StageCostSummary } from '../program.ts';

/** Parameters are stored as f32 (the runtime trains in f32). */
const PARAMETER_BYTES = 4;

export function stageCosts(layers: readonly CheckedLayer[], microbatchSize: number): StageCostSummary {
  const sum = (pick: (layer: CheckedLayer) => number) => layers.reduce((total, layer) => total + pick(layer), 0);
  const parameters = sum((layer) => layer.parameters);
  return {
    forwardFlops: sum((layer) => layer.forwardFlops) * microbatchSize,
    backwardInputFlops: sum((layer) => layer.backwardInputFlops) * microbatchSize,
    backwardWeightFlops: sum((layer) => layer.backwardWeightFlops) * microbatchSize,
    parameters,
    weightBytes: parameters * PARAMETER_BYTES,
    activationBytes: sum((layer) => layer.activationBytes) * microbatchSize,
    outputBytes: (layers.length === 0 ? 0 : layers[layers.length - 1].outputBytes) * microbatchSize,
    inputBytes: (layers.length === 0 ? 0 : bytesPerExample(layers[0].inputShape)) * microbatchSize,
  };
}
