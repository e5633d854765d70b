// `vocab_parallel LAYER` (Yeung et al., "Balancing Pipeline Parallelism with
// Vocabulary Parallelism", 2024): the output projection that feeds the
// softmax cross-entropy is split by its output units over every pipeline
// rank instead of running whole on the last stage. The stages are written as
// usual (the layer in the last stage); the checker takes the layer out of
// the last stage and appends one shard stage per rank, shard k on rank k,
// after the model's stages (compiler/schedule/types.ts, `vocabShards`).
//
// The passes of microbatch i, as the paper's Vocab-1 runs them: after the
// last stage's F its output is sent to every shard (the broadcast); the S
// pass (the shard's F) computes the logits shard, its row maxima and sums of
// exponentials, and sends them to the other shards (the all-reduce C0, done
// as an exchange); the T pass (the shard's B, or I and W) forms softmax −
// one-hot on its shard, its weight gradient and its part of the input
// gradient, which the last stage sums over the shards before its B (the
// reduce C1).

import { lookupLayer, withLastDim } from '../layers/catalog.ts';
import type { CheckedLayer, CheckedModel, CheckedStage, CheckedVocabParallel, Placement, Precision } from '../program.ts';
import { copyCount } from '../placement.ts';
import type { Span } from '../../grammar/source.ts';
import type { Reporter } from './context.ts';
import { stageCosts } from './costs.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

/** What the S pass sends each other shard per row: its maximum, its sum of exp(logit − maximum), its logit of the target (0 when the target is elsewhere). */
export const VOCAB_STATISTICS_PER_ROW = 3;

/** The setting checked against the model and the placement: the layer to split, or undefined with the problems reported. */
export function checkVocabParallel(
  setting: { readonly name: string; readonly span: Span },
  model: CheckedModel,
  placement: Placement,
  lastStage: { readonly name: string; readonly layers: readonly number[]; readonly span: Span } | undefined,
  reporter: Reporter,
): CheckedVocabParallel | undefined {
  const layer = model.layers.findIndex((candidate) => candidate.name === setting.name);
  if (layer < 0) {
    reporter.report(diagnosticMessages.vocabUnknownLayer, setting.span, { name: setting.name, model: model.name }, suggestName(setting.name, model.layers.map((candidate) => candidate.name), setting.span));
    return undefined;
  }
  const checked = model.layers[layer];
  const last = model.layers[model.layers.length - 1];
  if (layer !== model.layers.length - 1) {
    reporter.report(diagnosticMessages.vocabNotOutputLayer, setting.span, { name: setting.name, last: last.name }, {
      related: [{ span: last.span, message: `'${last.name}' feeds the loss` }],
    });
    return undefined;
  }
  if (checked.operator !== 'Dense' || checked.args.activation !== 'none') {
    const what = checked.operator !== 'Dense' ? `a ${checked.operator}` : `a Dense layer with activation ${String(checked.args.activation)}`;
    reporter.report(diagnosticMessages.vocabNotPlainDense, setting.span, { name: setting.name, what }, {
      related: [{ span: checked.span, message: 'declared here' }],
    });
    return undefined;
  }
  if (model.loss.function !== 'softmax_cross_entropy') {
    reporter.report(diagnosticMessages.vocabLossUnsupported, setting.span, { loss: model.loss.function }, { related: [{ span: model.loss.span, message: 'the loss' }] });
    return undefined;
  }
  if (copyCount(placement) > 1) {
    reporter.report(diagnosticMessages.vocabMirrored, setting.span, { placement: placement.kind });
    return undefined;
  }
  const units = Number(checked.args.units);
  const shards = placement.devices;
  if (units % shards !== 0) {
    reporter.report(diagnosticMessages.vocabIndivisible, setting.span, { name: setting.name, units, devices: shards }, {
      hint: largestDivisorAtMost(units, shards) > 1
        ? `use ${Math.ceil(units / shards) * shards} units (a multiple of ${shards}), or ${largestDivisorAtMost(units, shards)} devices`
        : `use ${Math.ceil(units / shards) * shards} units (a multiple of ${shards})`,
      related: [{ span: checked.span, message: 'declared here' }],
    });
    return undefined;
  }
  if (lastStage !== undefined && lastStage.layers.length === 1 && lastStage.layers[0] === layer) {
    reporter.report(diagnosticMessages.vocabLastStageEmpty, lastStage.span, { stage: lastStage.name, name: setting.name }, {
      related: [{ span: setting.span, message: 'split over the devices here' }],
    });
    return undefined;
  }
  return { layer, name: setting.name, shards, span: setting.span };
}

/**
 * The pipeline's stages with the layer taken out of the last stage and one
 * shard stage per rank appended (shard k on rank k, after every model
 * stage). A shard keeps its logits from S to T besides what its Dense layer
 * keeps, and sends its per-row statistics to the other shards.
 */
export function withVocabShards(stages: readonly CheckedStage[], vocab: CheckedVocabParallel, model: CheckedModel, microbatchSize: number, precision: Precision): CheckedStage[] {
  const layer = model.layers[vocab.layer];
  const lastIndex = stages.length - 1;
  const trimmed = stages.map((stage, index) => {
    if (index !== lastIndex) return stage;
    const kept = stage.layers.filter((candidate) => candidate !== vocab.layer);
    const layers = kept.map((candidate) => model.layers[candidate]);
    return { ...stage, layers: kept, outputShape: layers[layers.length - 1].outputShape, costs: stageCosts(layers, microbatchSize, precision) };
  });
  const shard = shardLayer(layer, vocab.shards);
  const base = stageCosts([shard], microbatchSize, precision);
  const rows = layer.inputShape.dims.slice(1, -1).reduce<number>((product, dim) => product * (typeof dim === 'number' ? dim : 1), 1);
  const costs = {
    ...base,
    // The logits shard waits in the stash from S until T turns it into softmax − one-hot.
    activationBytes: base.activationBytes + base.outputBytes,
    // what the S pass sends each other shard, not its logits
    outputBytes: VOCAB_STATISTICS_PER_ROW * 4 * rows * microbatchSize,
  };
  const shardStages: CheckedStage[] = Array.from({ length: vocab.shards }, (_, k) => ({
    index: stages.length + k,
    name: `${vocab.name}.shard${k}`,
    device: k,
    layers: [vocab.layer],
    inputShape: shard.inputShape,
    outputShape: shard.outputShape,
    recompute: false,
    offload: false,
    // A shard trains as its layer does; it always has a backward (the T pass).
    frozen: layer.frozen === true,
    forwardOnly: false,
    costs,
    span: vocab.span,
    vocabShard: { layer: vocab.layer, shard: k, shards: vocab.shards, units: Number(shard.args.units) },
  }));
  return [...trimmed, ...shardStages];
}

/** The layer with 1/shards of its output units, its costs from the catalog. */
function shardLayer(layer: CheckedLayer, shards: number): CheckedLayer {
  const definition = lookupLayer(layer.operator);
  if (definition === undefined) throw new Error(`withVocabShards: '${layer.operator}' is not in the catalog`);
  const args = { ...layer.args, units: Number(layer.args.units) / shards };
  const outputShape = withLastDim(layer.inputShape, args.units);
  const costs = definition.costs(layer.inputShape, outputShape, args as never);
  return { ...layer, ...costs, args, outputShape };
}

function largestDivisorAtMost(units: number, devices: number): number {
  for (let candidate = devices; candidate > 1; candidate--) if (units % candidate === 0) return candidate;
  return 1;
}
