// The IR's model description turned into runnable stages: one layer
// sequence, parameter table and optimizer per stage a device holds.

import type { IrProgram } from '../compiler/ir/types.ts';
import { SequenceLayer } from './layers/composite.ts';
import { buildSequenceChild, type ExternRegistry } from './layers/registry.ts';
import { createOptimizer, type Optimizer } from './optimizers.ts';
import { ParameterTable } from './parameters.ts';

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
  return ir.stages.filter((stage) => (stage.copy ?? 0) === 0);
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
