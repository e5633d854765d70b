// Hand-written instruction streams (GPipe, 1F1B, and a split-backward
// variant) for small models, so the interpreter is tested independently of
// the compiler's lowering. One stage per rank; slots are allocated lowest
// free first, so `slots` is the true peak of live (stage, microbatch) buffers.

import type { Instruction, IrDevice, IrLayer, IrProgram } from '../../../compiler/ir/types.ts';

export type HandSchedule = 'gpipe' | '1f1b' | '1f1b_split';

type Action = { readonly kind: 'F' | 'B' | 'I' | 'W'; readonly microbatch: number };

export function computeOrder(schedule: HandSchedule, ranks: number, rank: number, microbatches: number): Action[] {
  const order: Action[] = [];
  if (schedule === 'gpipe') {
    for (let i = 0; i < microbatches; i++) order.push({ kind: 'F', microbatch: i });
    for (let i = 0; i < microbatches; i++) order.push({ kind: 'B', microbatch: i });
    return order;
  }
  const warmup = Math.min(ranks - rank - 1, microbatches);
  const backward = (i: number): void => {
    if (schedule === '1f1b') order.push({ kind: 'B', microbatch: i });
    else order.push({ kind: 'I', microbatch: i });
  };
  for (let i = 0; i < warmup; i++) order.push({ kind: 'F', microbatch: i });
  for (let i = 0; i < microbatches - warmup; i++) {
    order.push({ kind: 'F', microbatch: i + warmup });
    backward(i);
  }
  for (let i = microbatches - warmup; i < microbatches; i++) backward(i);
  // Split variant: all weight gradients at the end (they fill the cool-down bubble).
  if (schedule === '1f1b_split') for (let i = 0; i < microbatches; i++) order.push({ kind: 'W', microbatch: i });
  return order;
}

export interface HandIrOptions {
  readonly schedule: HandSchedule;
  readonly ranks: number;
  readonly microbatches: number;
  readonly microbatchSize: number;
  readonly replicas?: number;
  /** The model's layers; split into `ranks` contiguous stages of equal count. */
  readonly layers: readonly IrLayer[];
  readonly input: IrProgram['model']['input'];
  readonly target: IrProgram['model']['target'];
  readonly loss?: string;
  readonly optimizer?: IrProgram['optimizer'];
  readonly data?: IrProgram['data'];
  readonly recompute?: boolean;
  readonly seed?: number;
}

export function dense(name: string, inputs: number, units: number, activation = 'relu'): IrLayer {
  return {
    name, operator: 'Dense', args: { units, activation, bias: true }, inputShape: [inputs], outputShape: [units],
    inputDtype: 'f32', outputDtype: 'f32', parameters: inputs * units + units, children: [],
  };
}

export function mlpLayers(inputs: number, hidden: number, depth: number, classes: number): IrLayer[] {
  const layers = [dense('fc_in', inputs, hidden)];
  for (let i = 0; i < depth; i++) layers.push(dense(`hidden[${i}]`, hidden, hidden));
  layers.push(dense('out', hidden, classes, 'none'));
  return layers;
}

export function handIr(options: HandIrOptions): IrProgram {
  const { ranks, microbatches } = options;
  const replicas = options.replicas ?? 1;
  const perStage = Math.ceil(options.layers.length / ranks);
  const stages = Array.from({ length: ranks }, (_, s) => ({
    index: s, name: `s${s}`, rank: s,
    layers: options.layers.map((_, i) => i).slice(s * perStage, Math.min(options.layers.length, (s + 1) * perStage)),
    recompute: options.recompute ?? false, offload: false, activationBytes: 0,
  }));
  const devices: IrDevice[] = [];
  for (let replica = 0; replica < replicas; replica++) {
    for (let rank = 0; rank < ranks; rank++) {
      const index = replica * ranks + rank;
      const stage = rank;
      const previous = replica * ranks + rank - 1;
      const next = replica * ranks + rank + 1;
      const instructions: Instruction[] = [];
      // What a send or receive moves: one microbatch of the stage boundary's activation (or its gradient), f32.
      const boundaryBytes = (producer: number): number => {
        const last = stages[producer].layers.at(-1)!;
        return 4 * options.microbatchSize * options.layers[last].outputShape.reduce((a, b) => a * b, 1);
      };
      const slotOf = new Map<number, number>();
      const free: number[] = [];
      let slots = 0;
      let live = 0;
      const take = (microbatch: number): number => {
        free.sort((a, b) => a - b);
        const slot = free.length > 0 ? free.shift()! : slots++;
        slotOf.set(microbatch, slot);
        live++;
        return slot;
      };
      for (const action of computeOrder(options.schedule, ranks, rank, microbatches)) {
        const mb = action.microbatch;
        if (action.kind === 'F') {
          const slot = take(mb);
          if (stage === 0) instructions.push({ op: 'load_microbatch', stage, microbatch: mb, slot });
          else instructions.push({ op: 'recv_act', stage, microbatch: mb, slot, peer: previous, bytes: boundaryBytes(stage - 1) });
          instructions.push({ op: options.recompute ? 'forward' : 'forward', stage, microbatch: mb, slot });
          if (stage < ranks - 1) instructions.push({ op: 'send_act', stage, microbatch: mb, slot, peer: next, bytes: boundaryBytes(stage) });
          else instructions.push({ op: 'loss', stage, microbatch: mb, slot });
          continue;
        }
        const slot = slotOf.get(mb)!;
        if (action.kind === 'W') {
          instructions.push({ op: 'backward_weight', stage, microbatch: mb, slot });
          instructions.push({ op: 'free', stage, microbatch: mb, slot });
          free.push(slot);
          live--;
          continue;
        }
        if (stage < ranks - 1) instructions.push({ op: 'recv_grad', stage, microbatch: mb, slot, peer: next, bytes: boundaryBytes(stage) });
        if (options.recompute) instructions.push({ op: 'recompute', stage, microbatch: mb, slot });
        instructions.push({ op: action.kind === 'B' ? 'backward' : 'backward_input', stage, microbatch: mb, slot });
        if (stage > 0) instructions.push({ op: 'send_grad', stage, microbatch: mb, slot, peer: previous, bytes: boundaryBytes(stage - 1) });
        if (action.kind === 'B') {
          instructions.push({ op: 'free', stage, microbatch: mb, slot });
          free.push(slot);
          live--;
        }
      }
      if (replicas > 1) {
        const weights = stages[stage].layers.reduce((sum, layer) => sum + options.layers[layer].parameters, 0);
        instructions.push({ op: 'allreduce', stage, group: Array.from({ length: replicas }, (_, r) => r * ranks + rank), bytes: 4 * weights });
      }
      instructions.push({ op: 'optimizer_step', stage });
      void live;
      devices.push({
        index, name: `gpu[${index}]`, replica, rank, slots,
        memory: { weights: 0, gradients: 0, optimizerState: 0, activations: 0, peak: 0, capacity: 0 },
        instructions,
      });
    }
  }
  return {
    version: 1, pipeline: 'hand', schedule: options.schedule, splitBackward: options.schedule === '1f1b_split',
    ranks, replicas, microbatches, microbatchSize: options.microbatchSize, batch: options.microbatchSize * microbatches * replicas,
    seed: options.seed ?? 7,
    optimizer: options.optimizer ?? { name: 'sgd', args: { lr: 0.1 } },
    data: options.data ?? { name: 'synthetic', args: { size: 512, seed: 3 } },
    model: { name: 'hand', layers: options.layers, input: options.input, target: options.target, loss: options.loss ?? 'softmax_cross_entropy' },
    stages,
    devices,
  };
}

export function handMlpIr(schedule: HandSchedule, ranks: number, microbatches: number, extra: Partial<HandIrOptions> = {}): IrProgram {
  return handIr({
    schedule, ranks, microbatches, microbatchSize: 4,
    layers: mlpLayers(12, 16, ranks * 2 - 2, 5),
    input: { name: 'x', shape: [12], dtype: 'f32' },
    target: { name: 'y', shape: [], dtype: 'i32' },
    ...extra,
  });
}
