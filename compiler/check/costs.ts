// Per-stage costs for one microbatch: the catalog's per-example layer costs
// summed over the stage and multiplied by the microbatch size.

import { bytesPerExample } from '../layers/catalog.ts';
import type { CheckedLayer, Precision, StageCostSummary } from '../program.ts';
import { activationScale, bytesPerParameter } from './settings.ts';
import { trainableParameters } from './model.ts';

/**
 * The catalog counts f32 tensors; under mixed precision float activations
 * take half as many bytes. Integer token ids stay 4 bytes: a stage whose
 * first layer keeps integer input (Embedding) keeps that part unscaled.
 */
export function stageCosts(layers: readonly CheckedLayer[], microbatchSize: number, precision: Precision = 'fp32'): StageCostSummary {
  const sum = (pick: (layer: CheckedLayer) => number) => layers.reduce((total, layer) => total + pick(layer), 0);
  const parameters = sum((layer) => layer.parameters);
  const scale = activationScale(precision);
  const integerInput = layers.length > 0 && layers[0].inputShape.dtype === 'i32' ? layers[0].keptInputBytes ?? 0 : 0;
  const floatScaled = (bytes: number, integerPart: number) => ((bytes - integerPart) * scale + integerPart) * microbatchSize;
  const stageInput = layers.length === 0 ? 0 : bytesPerExample(layers[0].inputShape);
  return {
    forwardFlops: sum((layer) => layer.forwardFlops) * microbatchSize,
    backwardInputFlops: sum((layer) => layer.backwardInputFlops) * microbatchSize,
    backwardWeightFlops: sum((layer) => layer.backwardWeightFlops) * microbatchSize,
    parameters,
    trainableParameters: sum(trainableParameters),
    weightBytes: parameters * bytesPerParameter(precision, 0).parameter,
    activationBytes: floatScaled(stashBytesPerExample(layers), integerInput),
    outputBytes: floatScaled(layers.length === 0 ? 0 : layers[layers.length - 1].outputBytes, 0),
    inputBytes: floatScaled(stageInput, integerInput > 0 ? stageInput : 0),
    weightGradientBytes: floatScaled(sum((layer) => layer.weightGradientBytes ?? layer.activationBytes), integerInput),
    inputInStash: layers.length > 0 && (layers[0].keptInputBytes ?? 0) > 0,
  };
}

/**
 * The stage's forward stash per example: every layer's kept bytes, with a
 * tensor one layer keeps as its output and the next keeps as its input
 * counted once (the runtime holds one buffer for both). A layer that keeps
 * nothing and computes nothing (Flatten: a reshape, which shares its
 * buffer) passes its input through as its output.
 */
function stashBytesPerExample(layers: readonly CheckedLayer[]): number {
  let total = 0;
  let previousOutputKept = 0;
  for (const layer of layers) {
    total += layer.activationBytes;
    const keptInput = layer.keptInputBytes ?? 0;
    if (keptInput > 0 && previousOutputKept > 0) total -= Math.min(keptInput, previousOutputKept);
    const passesThrough = layer.activationBytes === 0 && layer.forwardFlops === 0 && layer.children.length === 0;
    previousOutputKept = passesThrough ? previousOutputKept : (layer.keptOutputBytes ?? 0);
  }
  return total;
}
