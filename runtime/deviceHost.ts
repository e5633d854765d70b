// Everything one device holds: its stages (layers, parameters, optimizer
// state) and its interpreter. Used directly in in-process mode and inside
// each worker thread in worker mode.

import * as tf from '@tensorflow/tfjs-core';
import type { IrProgram } from '../compiler/ir/types.ts';
import type { BatchFeed } from './data/index.ts';
import { DeviceInterpreter, type StepOptions, type StepReport, type Transport } from './interpreter.ts';
import type { ExternRegistry } from './layers/registry.ts';
import { disposeState, type Tensor } from './layers/types.ts';
import { RuntimeFault, type FaultLocation } from './messages.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';
import { buildStage, shardKey, stagesOnDevice, type StageRuntime } from './model.ts';

export interface HostArray {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Parameters and optimizer state of some stages, as plain arrays (checkpoints, worker messages). */
export interface StageState {
  readonly parameters: Record<string, HostArray>;
  readonly optimizer: Record<string, HostArray>;
  readonly optimizerSteps: number;
}

export class DeviceHost {
  readonly interpreter: DeviceInterpreter;
  readonly stages: ReadonlyMap<number, StageRuntime>;
  private readonly ir: IrProgram;

  constructor(ir: IrProgram, deviceIndex: number, externs: ExternRegistry, feed: BatchFeed, transport: Transport, observer?: (location: FaultLocation) => void) {
    const device = ir.devices.find((d) => d.index === deviceIndex);
    if (!device) throw new Error(`no device ${deviceIndex} in the IR`);
    this.ir = ir;
    const stages = new Map<number, StageRuntime>();
    for (const stage of stagesOnDevice(ir, deviceIndex)) stages.set(stage, buildStage(ir, stage, externs));
    this.stages = stages;
    this.interpreter = new DeviceInterpreter(ir, device, stages, feed, transport, observer);
  }

  runStep(options: StepOptions): Promise<StepReport> {
    return this.interpreter.runStep(options);
  }

  /** Gradients by parameter name; a vocabulary shard's under shardKey (joinVocabShards joins them over the devices). */
  async gradients(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [index, stage] of this.stages) {
      const snapshot = await stage.parameters.snapshotGradients();
      const shard = this.ir.stages[index].vocabShard;
      for (const [name, values] of Object.entries(snapshot)) out[shard === undefined ? name : shardKey(name, shard.shard)] = values;
    }
    return out;
  }

  clearGradients(): void {
    for (const stage of this.stages.values()) stage.parameters.clearGradients();
  }

  async state(): Promise<Record<number, StageState>> {
    const out: Record<number, StageState> = {};
    for (const [index, stage] of this.stages) {
      const parameters: Record<string, HostArray> = {};
      for (const name of stage.parameters.names()) {
        const value = stage.parameters.get(name);
        parameters[name] = { shape: value.shape, values: (await value.data()) as Float32Array };
      }
      const optimizer: Record<string, HostArray> = {};
      for (const [name, value] of stage.optimizer.state()) optimizer[name] = { shape: value.shape, values: (await value.data()) as Float32Array };
      out[index] = { parameters, optimizer, optimizerSteps: stage.optimizer.stepCount };
    }
    return out;
  }

  loadState(state: Readonly<Record<number, StageState>>): void {
    for (const [index, stage] of this.stages) {
      const saved = state[index];
      if (!saved) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `the checkpoint has no state for stage ${index}`);
      // Every parameter the stage builds, with its shape, before any is replaced (nothing half-loaded).
      for (const name of stage.parameters.names()) {
        const wanted = stage.parameters.get(name).shape;
        const stored = saved.parameters[name];
        if (!stored) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `the checkpoint has no parameter '${name}' for stage ${index}`);
        if (stored.shape.length !== wanted.length || stored.shape.some((size, i) => size !== wanted[i])) {
          throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `the checkpoint's parameter '${name}' of stage ${index} has the shape [${stored.shape.join(', ')}]; the program's is [${wanted.join(', ')}]`);
        }
      }
      const unknown = Object.keys(saved.parameters).filter((name) => !stage.parameters.names().includes(name));
      if (unknown.length > 0) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `the checkpoint has parameters stage ${index} does not have: ${unknown.join(', ')}`);
      stage.parameters.loadValues(Object.fromEntries(Object.entries(saved.parameters).map(([name, array]) => [name, array.values])));
      stage.optimizer.restore(
        new Map(Object.entries(saved.optimizer).map(([name, array]) => [name, array.values])),
        new Map(Object.entries(saved.optimizer).map(([name, array]) => [name, array.shape])),
        saved.optimizerSteps,
      );
    }
  }

  /**
   * Inference through one stage (evaluation); takes ownership of `input`
   * and of the skips it merges (`skips`, by edge), and hands back its output
   * and the skips it sends, by edge.
   */
  forwardOnly(stageIndex: number, input: Tensor, skips: ReadonlyMap<number, Tensor> = new Map()): { output: Tensor; skips: Map<number, Tensor> } {
    const stage = this.stages.get(stageIndex);
    if (!stage) throw new Error(`stage ${stageIndex} is not on this device`);
    const received = new Map<string, Tensor>();
    for (const [edge, source] of stage.skipsIn) {
      const tensor = skips.get(edge);
      if (tensor === undefined) throw new Error(`stage ${stageIndex} merges the skip of edge ${edge} (from '${source}'), which did not come`);
      received.set(source, tensor);
    }
    const result = stage.layer.forwardWithSkips(stage.parameters, input, { training: false, step: 0, seed: 0, exampleOffset: 0 }, received);
    disposeState(result.saved);
    disposeState([input, ...skips.values()]);
    const sent = new Map<number, Tensor>();
    for (const [edge, source] of stage.skipsOut) sent.set(edge, result.sent.get(source)!.clone());
    disposeState([...result.sent.values()]);
    return { output: result.output, skips: sent };
  }

  dispose(): void {
    for (const stage of this.stages.values()) {
      stage.parameters.dispose();
      stage.optimizer.dispose();
    }
  }
}

export function tensorFromHost(array: { shape: readonly number[]; values: Float32Array | Int32Array }): Tensor {
  return tf.tensor(array.values, array.shape as number[], array.values instanceof Int32Array ? 'int32' : 'float32');
}
