// The IR's model description turned into runnable stages: one layer
// sequence, parameter table and optimizer per stage a device holds.

import type { IrProgram } from '../compiler/ir/types.ts';
import { SequenceLayer } from './layers/composite.ts';
import { buildLayer, buildSequenceChild, type ExternRegistry } from './layers/registry.ts';
import { createOptimizer, type Optimizer } from './optimizers.ts';
import { initialValues, ParameterTable } from './parameters.ts';

export interface StageRuntime {
  readonly index: number;
  readonly layer: SequenceLayer;
  /** Cross-stage skip edges whose merge is here: edge id → the source layer's name (what the stage's merges read). */
  readonly skipsIn: ReadonlyMap<number, string>;
  /** Cross-stage skip edges whose source is here: edge id → the source layer's name (what the forward sends). */
  readonly skipsOut: ReadonlyMap<number, string>;
  readonly parameters: ParameterTable;
  readonly optimizer: Optimizer;
  readonly recompute: boolean;
}

export function buildStage(ir: IrProgram, stageIndex: number, externs: ExternRegistry): StageRuntime {
  const stage = ir.stages[stageIndex];
  if (!stage) throw new Error(`the IR names stage ${stageIndex}, but has ${ir.stages.length} stages`);
  const shard = stage.vocabShard;
  if (shard !== undefined) return buildVocabShard(ir, stageIndex, shard, externs);
  const skipsIn = new Map<number, string>();
  const skipsOut = new Map<number, string>();
  (ir.skipEdges ?? []).forEach((edge, id) => {
    if (edge.sourceStage === edge.mergeStage) return;
    if (edge.mergeStage === stageIndex) skipsIn.set(id, ir.model.layers[edge.source].name);
    if (edge.sourceStage === stageIndex) skipsOut.set(id, ir.model.layers[edge.source].name);
  });
  const layer = new SequenceLayer(stage.name, stage.layers.map((index) => buildSequenceChild(ir.model.layers[index], externs)), [...new Set(skipsOut.values())]);
  return {
    index: stageIndex,
    layer,
    skipsIn,
    skipsOut,
    parameters: new ParameterTable(layer.parameters, ir.seed),
    optimizer: createOptimizer(ir.optimizer),
    recompute: stage.recompute,
  };
}

/** The whole model as one stage: the single-device reference. */
export function buildWholeModel(ir: IrProgram, externs: ExternRegistry): StageRuntime {
  // Every skip lies inside the whole model's one sequence.
  const layer = new SequenceLayer(ir.model.name, ir.model.layers.map((l) => buildSequenceChild(l, externs)));
  return {
    index: 0,
    layer,
    skipsIn: new Map(),
    skipsOut: new Map(),
    parameters: new ParameterTable(layer.parameters, ir.seed),
    optimizer: createOptimizer(ir.optimizer),
    recompute: false,
  };
}

/** Global device index of the device that runs `stage` in `replica`. */
export function deviceOfStage(ir: IrProgram, stage: number, replica: number): number {
  return replica * ir.ranks + ir.stages[stage].rank;
}

/**
 * The stages one forward pass of the whole model runs through, in order:
 * every stage, or with two model copies copy 0's (copy 1 holds the same
 * parameters after every step).
 */
export function oneCopyStages(ir: IrProgram): IrProgram['stages'] {
  return ir.stages.filter((stage) => (stage.copy ?? 0) === 0 && stage.vocabShard === undefined);
}

/** The vocabulary shard stages (`vocab_parallel`), shard 0 first. */
export function vocabShardStages(ir: IrProgram): IrProgram['stages'] {
  return ir.stages.filter((stage) => stage.vocabShard !== undefined);
}

type VocabShardInfo = NonNullable<IrProgram['stages'][number]['vocabShard']>;

/**
 * A vocabulary shard: the Dense layer with `units` of its outputs, its
 * parameters (same names as the whole layer's) initialised to the slice of
 * the whole layer's initial values, so the pipeline starts where
 * single-device training does.
 */
function buildVocabShard(ir: IrProgram, stageIndex: number, shard: VocabShardInfo, externs: ExternRegistry): StageRuntime {
  const stage = ir.stages[stageIndex];
  const whole = ir.model.layers[stage.layers[0]];
  const narrowed = { ...whole, args: { ...whole.args, units: shard.units }, outputShape: [...whole.outputShape.slice(0, -1), shard.units], parameters: 0 };
  const layer = new SequenceLayer(stage.name, [buildSequenceChild(narrowed, externs)]);
  const wholeSpecs = new Map(buildLayer(whole, externs).parameters.map((spec) => [spec.name, spec]));
  const parameters = new ParameterTable(layer.parameters, ir.seed, (spec) => {
    const full = wholeSpecs.get(spec.name);
    return full === undefined ? undefined : sliceLastAxis(initialValues(full, ir.seed), full.shape[full.shape.length - 1], shard.shard, shard.units);
  });
  return { index: stageIndex, layer, parameters, optimizer: createOptimizer(ir.optimizer), recompute: false, skipsIn: new Map(), skipsOut: new Map() };
}

/** Shard `shard` (of width `units`) of the last axis of a row-major array whose last axis has `size` entries. */
export function sliceLastAxis(values: Float32Array, size: number, shard: number, units: number): Float32Array {
  const rows = values.length / size;
  const out = new Float32Array(rows * units);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * size + shard * units, r * size + (shard + 1) * units), r * units);
  return out;
}

/** The shards of a parameter (in shard order) joined along the last axis into the whole layer's. */
export function joinLastAxis(shards: readonly Float32Array[], units: number): Float32Array {
  const rows = shards[0].length / units;
  const size = units * shards.length;
  const out = new Float32Array(rows * size);
  shards.forEach((values, k) => {
    for (let r = 0; r < rows; r++) out.set(values.subarray(r * units, (r + 1) * units), r * size + k * units);
  });
  return out;
}

/** The key a vocabulary shard's parameter travels under until joinVocabShards puts the whole layer's back together. */
export function shardKey(name: string, shard: number): string {
  return `${name}#shard${shard}`;
}

/**
 * Per-parameter arrays (gradients or values) gathered from the devices, the
 * vocabulary shards' under shardKey, with each sharded parameter joined back
 * into the whole layer's (what single-device training has).
 */
export function joinVocabShards(ir: IrProgram, gathered: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  const shards = ir.stages.filter((stage) => stage.vocabShard !== undefined);
  if (shards.length === 0) return { ...gathered };
  const out: Record<string, Float32Array> = {};
  const pattern = /^(.*)#shard(\d+)$/;
  const parts = new Map<string, Float32Array[]>();
  for (const [key, values] of Object.entries(gathered)) {
    const match = pattern.exec(key);
    if (match === null) { out[key] = values; continue; }
    const list = parts.get(match[1]) ?? [];
    list[Number(match[2])] = values;
    parts.set(match[1], list);
  }
  const units = shards[0].vocabShard!.units;
  for (const [name, list] of parts) out[name] = joinLastAxis(list, units);
  return out;
}

export function stagesOnDevice(ir: IrProgram, deviceIndex: number): number[] {
  const device = ir.devices.find((d) => d.index === deviceIndex);
  if (!device) throw new Error(`no device ${deviceIndex} in the IR`);
  return ir.stages.filter((stage) => stage.rank === device.rank).map((stage) => stage.index);
}

/** The skips in flight that `stage` merges, taken out of `skips` (by edge). */
export function takeSkipsInto<T>(ir: IrProgram, stage: number, skips: Map<number, T>): Map<number, T> {
  const taken = new Map<number, T>();
  (ir.skipEdges ?? []).forEach((edge, id) => {
    if (edge.mergeStage !== stage || edge.sourceStage === stage || !skips.has(id)) return;
    taken.set(id, skips.get(id)!);
    skips.delete(id);
  });
  return taken;
}
