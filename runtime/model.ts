// The IR's model description turned into runnable stages: one layer
// sequence, parameter table and optimizer per stage a device holds.

import type { IrProgram } from '../compiler/ir/types.ts';
import { SequenceLayer } from './layers/composite.ts';
import { buildLayer, type ExternRegistry } from './layers/registry.ts';
import { createOptimizer, type Optimizer } from './optimizers.ts';
import { ParameterTable } from './parameters.ts';

export interface StageRuntime {
  readonly index: number;
  readonly layer: SequenceLayer;
  readonly parameters: ParameterTable;
  readonly optimizer: Optimizer;
  readonly recompute: boolean;
}

export function buildStage(ir: IrProgram, stageIndex: number, externs: ExternRegistry): StageRuntime {
  const stage = ir.stages[stageIndex];
  if (!stage) throw new Error(`the IR names stage ${stageIndex}, but has ${ir.stages.length} stages`);
  const layer = new SequenceLayer(stage.name, stage.layers.map((index) => buildLayer(ir.model.layers[index], externs)));
  return {
    index: stageIndex,
    layer,
    parameters: new ParameterTable(layer.parameters, ir.seed),
    optimizer: createOptimizer(ir.optimizer),
    recompute: stage.recompute,
  };
}

/** The whole model as one stage: the single-device reference. */
export function buildWholeModel(ir: IrProgram, externs: ExternRegistry): StageRuntime {
  const layer = new SequenceLayer(ir.model.name, ir.model.layers.map((l) => buildLayer(l, externs)));
  return {
    index: 0,
    layer,
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
