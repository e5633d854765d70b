// Executes one device's instruction stream over a table of activation slots.
// Messages follow the IR's channel contract: tagged, sends never block, a
// recv waits until its tagged message is there. The same class runs every
// device in one thread (in-process mode) or one device per worker thread;
// only the Transport differs.

import * as tf from '@tensorflow/tfjs-core';
import { messageStages, type Instruction, type IrDevice, type IrProgram } from '../compiler/ir/types.ts';
import type { BatchFeed } from './data/index.ts';
import { collectTensors, disposeState, type LayerState, type RunContext, type Tensor } from './layers/types.ts';
import { computeLoss, parseLoss, vocabShardLoss, vocabShardStatistics, type LossName } from './loss.ts';
import { RuntimeFault, type FaultLocation } from './messages.ts';
import type { StageRuntime } from './model.ts';
import type { TraceEvent } from './trace.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';
import { callWithin, OperationTimeout, settleWithin } from './opTimeout.ts';

/** Moves tensors between devices. Takes ownership of what it sends. */
export interface Transport {
  send(from: number, to: number, tag: string, tensors: Tensor[]): Promise<void>;
  receive(from: number, to: number, tag: string): Promise<Tensor[]>;
}

interface HostTensor { readonly host: true; readonly shape: number[]; readonly dtype: tf.DataType; readonly values: tf.TypedArray }

/** Everything one (stage, microbatch) keeps in its slot between instructions. */
interface SlotContent {
  readonly stage: number;
  readonly microbatch: number;
  input?: Tensor;
  target?: Tensor;
  output?: Tensor;
  saved?: LayerState;
  /** Set while `saved` lives in host memory (offload). */
  offloaded?: unknown;
  /** The forward kept only its input (recompute stage). */
  needsRecompute?: boolean;
  outputGradient?: Tensor;
  inputGradient?: Tensor | null;
  pending?: LayerState;
  /** A vocabulary shard's logits, kept from its S pass until its T pass (part of the stash). */
  logits?: Tensor;
  /** A vocabulary shard's own row statistics, and those received from the other shards, by stage. */
  statistics?: Tensor;
  peerStatistics?: Map<number, Tensor>;
  /** Cross-stage skips by edge: received for this stage's merges (kept until its B or I, like the stash), and produced for later stages. */
  skipInputs?: Map<number, Tensor>;
  skipOutputs?: Map<number, Tensor>;
  /** Gradients by edge: of the skips this stage sent (added to their sources' output gradients), and of those it received (sent back). */
  skipOutputGradients?: Map<number, Tensor>;
  skipInputGradients?: Map<number, Tensor>;
}

/** A slot's map of tensors by skip edge, created on first use. */
function edgeMap(slot: SlotContent, key: 'skipInputs' | 'skipOutputs' | 'skipOutputGradients' | 'skipInputGradients'): Map<number, Tensor> {
  let map = slot[key];
  if (map === undefined) slot[key] = map = new Map();
  return map;
}

/** Takes the tensor of `edge` out of a slot's map; a missing one is a stream out of order. */
function takeEdge(slot: SlotContent, key: 'skipOutputs' | 'skipInputGradients', edge: number, what: string, location: FaultLocation): Tensor {
  const tensor = slot[key]?.get(edge);
  if (tensor === undefined) throw new RuntimeFault(diagnosticMessages.slotMisuse, `${what} of skip edge ${edge} before it was computed`, location);
  slot[key]!.delete(edge);
  return tensor;
}

export interface StepOptions {
  readonly step: number;
  /** False for verify: gradients are kept for inspection instead of applied. */
  readonly applyOptimizer: boolean;
  readonly training: boolean;
  /** Check outputs and gradients for NaN/Inf after each compute instruction. */
  readonly checkFinite: boolean;
  /** Trace origin (ms, performance.timeOrigin-based); events are recorded when set. */
  readonly traceOrigin?: number;
  /**
   * In-process mode: an instruction's computation that runs longer than
   * this (ms) stops the run with PIPE6251 (runtime/opTimeout.ts); receives
   * and all-reduces, which wait for other devices, are not timed.
   */
  readonly opTimeoutMs?: number;
  /** Test hook: make this device fail at an instruction. */
  readonly fault?: { readonly device: number; readonly instruction: number; readonly kind: 'throw' | 'exit' | 'hang' };
}

export interface StepReport {
  readonly device: number;
  /** Sum of the scaled microbatch losses this device computed (0 off the last stage). */
  readonly loss: number;
  readonly correct: number;
  readonly counted: number;
  readonly peakSlots: number;
  /**
   * Most bytes of activations this device's stash held at once: the tensors
   * its slots keep for a backward step (the stage input a recompute stage
   * keeps, the forward's saved state, what I leaves for W), each buffer
   * counted once, after every instruction and while a recompute stage's
   * forward still holds its saved state. The compiler predicts it
   * (IrDevice.memory.activations; compiler/schedule/memory.ts).
   */
  readonly peakActivationBytes: number;
  readonly instructions: number;
  readonly events: readonly TraceEvent[];
}

const OP_LETTER: Partial<Record<Instruction['op'], string>> = {
  forward: 'F', backward: 'B', backward_input: 'I', backward_weight: 'W', loss: 'L', recompute: 'R',
};

/** Ops whose time is mostly waiting for another device: the op timeout leaves them to the deadlock check. */
const WAITS_FOR_PEERS: ReadonlySet<Instruction['op']> = new Set(['recv_act', 'recv_grad', 'recv_stats', 'recv_skip', 'recv_skip_grad', 'allreduce']);

export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** One optimizer_step per stage: each names its stage; one in all: it updates every stage on the device. */
export function optimizerStepPerStage(device: IrDevice, stagesOnDevice: number): boolean {
  const optimizerSteps = device.instructions.filter((i) => i.op === 'optimizer_step').length;
  return optimizerSteps > 1 && optimizerSteps === stagesOnDevice;
}

/** Where instruction `index` of `device` is, as fault messages name it (also read back by the worker watchdog). */
export function instructionLocation(device: IrDevice, index: number, perStageOptimizer: boolean): FaultLocation {
  const ins = device.instructions[index];
  return {
    device: device.index, deviceName: device.name, instruction: index, op: ins.op,
    stage: ins.op === 'optimizer_step' && !perStageOptimizer ? undefined : ins.stage, microbatch: ins.microbatch,
  };
}

export class DeviceInterpreter {
  readonly device: IrDevice;
  readonly stages: ReadonlyMap<number, StageRuntime>;
  private readonly ir: IrProgram;
  private readonly feed: BatchFeed;
  private readonly transport: Transport;
  private readonly lossName: LossName;
  private readonly perStageOptimizer: boolean;
  /** Vocabulary shard stages (after the model's; 0 unless vocab_parallel). */
  private readonly vocabShards: number;
  private slots: (SlotContent | null)[];
  /** This step's peak of noteStash. */
  private peakStashBytes = 0;
  /** Instruction being executed, for error reports from outside (hangs). */
  current: FaultLocation;
  /** Tag of the message the current send / receive moves (trace events). */
  private lastTag: string | undefined;
  /** Told about each instruction as it starts (worker progress reports). */
  private readonly observer?: (location: FaultLocation) => void;

  constructor(ir: IrProgram, device: IrDevice, stages: ReadonlyMap<number, StageRuntime>, feed: BatchFeed, transport: Transport, observer?: (location: FaultLocation) => void) {
    this.observer = observer;
    this.ir = ir;
    this.device = device;
    this.stages = stages;
    this.feed = feed;
    this.transport = transport;
    this.lossName = parseLoss(ir.model.loss);
    this.perStageOptimizer = optimizerStepPerStage(device, stages.size);
    this.vocabShards = ir.stages.filter((stage) => stage.vocabShard !== undefined).length;
    this.slots = new Array(Math.max(device.slots, 1)).fill(null);
    this.current = { device: device.index, deviceName: device.name };
  }

  private stage(index: number, location: FaultLocation): StageRuntime {
    const stage = this.stages.get(index);
    if (!stage) throw new RuntimeFault(diagnosticMessages.slotMisuse, `stage ${index} does not run on this device`, location);
    return stage;
  }


  private isShard(stage: number): boolean {
    return this.ir.stages[stage]?.vocabShard !== undefined;
  }

  /** Stages of one model copy (all of them unless the placement is mirrored; see IrProgram.copies), vocabulary shards aside. */
  private get stagesPerCopy(): number {
    return (this.ir.stages.length - this.vocabShards) / (this.ir.copies ?? 1);
  }

  /** Whether the stage is its copy's first: it loads the input and sends no input gradient. */
  private firstOfCopy(stage: number): boolean {
    return !this.isShard(stage) && stage % this.stagesPerCopy === 0;
  }

  /** Whether the stage computes the loss and sends no activation: its copy's last, or with vocab_parallel every shard. */
  private lastOfCopy(stage: number): boolean {
    if (this.isShard(stage)) return true;
    if (this.vocabShards > 0) return false;
    return stage % this.stagesPerCopy === this.stagesPerCopy - 1;
  }

  private stageDevice(stage: number): number {
    return this.device.replica * this.ir.ranks + this.ir.stages[stage].rank;
  }

  /**
   * The peer of a send/recv as a global device index. Activations and
   * gradients never cross replicas, so a rank-only peer (what lowering emits
   * before replication) maps into this device's replica.
   */
  private peerOf(ins: Instruction): number {
    const peer = ins.peer ?? this.device.index;
    return this.device.replica * this.ir.ranks + (peer % this.ir.ranks);
  }

  /** Tag of an activation edge, named by its producer stage (either naming convention of the instruction is accepted). */
  private activationProducer(ins: Instruction, sending: boolean): number {
    const s = ins.stage;
    const peer = this.peerOf(ins);
    const here = this.device.index;
    if (sending) {
      if (!this.lastOfCopy(s) && this.stageDevice(s) === here && this.stageDevice(s + 1) === peer) return s;
      return s - 1;
    }
    if (!this.firstOfCopy(s) && this.stageDevice(s) === here && this.stageDevice(s - 1) === peer) return s - 1;
    return s;
  }

  /** Tag of a gradient edge, named by the stage whose input gradient it is. */
  private gradientSender(ins: Instruction, sending: boolean): number {
    const s = ins.stage;
    const peer = this.peerOf(ins);
    const here = this.device.index;
    if (sending) {
      if (!this.firstOfCopy(s) && this.stageDevice(s) === here && this.stageDevice(s - 1) === peer) return s;
      return s + 1;
    }
    if (!this.lastOfCopy(s) && this.stageDevice(s) === here && this.stageDevice(s + 1) === peer) return s + 1;
    return s;
  }

  private slotIndex(ins: Instruction, location: FaultLocation): number {
    const slot = ins.slot ?? 0;
    if (slot < 0 || slot >= this.slots.length) {
      // The compiler sized the table; a slot outside it is a lowering bug, but grow rather than corrupt.
      if (slot < 0) throw new RuntimeFault(diagnosticMessages.slotMisuse, `negative slot ${slot}`, location);
      while (this.slots.length <= slot) this.slots.push(null);
    }
    return slot;
  }

  /** The slot of (stage, microbatch), created when empty. */
  private open(slotIndex: number, stage: number, microbatch: number, location: FaultLocation): SlotContent {
    const existing = this.slots[slotIndex];
    if (existing) {
      if (existing.stage !== stage || existing.microbatch !== microbatch) {
        throw new RuntimeFault(diagnosticMessages.slotMisuse,
          `slot ${slotIndex} still holds stage ${existing.stage} microbatch ${existing.microbatch} (not freed before reuse)`, location);
      }
      return existing;
    }
    const created: SlotContent = { stage, microbatch };
    this.slots[slotIndex] = created;
    return created;
  }

  private find(stage: number, microbatch: number): SlotContent | undefined {
    return this.slots.find((slot) => slot !== null && slot.stage === stage && slot.microbatch === microbatch) ?? undefined;
  }

  private context(step: number, microbatch: number, training: boolean): RunContext {
    return { training, step, seed: this.ir.seed, exampleOffset: this.feed.exampleOffset(this.device.replica, microbatch) };
  }

  private loadTensors(step: number, microbatch: number): { input: Tensor; target: Tensor } {
    const batch = this.feed.microbatch(step, this.device.replica, microbatch);
    const model = this.ir.model;
    const size = this.ir.microbatchSize;
    return {
      input: tf.tensor(batch.input, [size, ...model.input.shape], model.input.dtype === 'i32' ? 'int32' : 'float32'),
      target: tf.tensor(batch.target, [size, ...model.target.shape], model.target.dtype === 'i32' ? 'int32' : 'float32'),
    };
  }

  private async checkFinite(tensor: Tensor | null | undefined, what: string, location: FaultLocation, options: StepOptions): Promise<void> {
    if (!options.checkFinite || !tensor || tensor.dtype !== 'float32') return;
    if (!(await allFinite(tensor))) throw new RuntimeFault(diagnosticMessages.nonFinite, `${what} contains NaN or Inf`, location);
  }

  /**
   * The weight gradients (after W or a fused B, and after an all-reduce) or
   * the parameters (after the optimizer step) of `stages`, every tensor
   * checked in one read; the message names the first parameter at fault.
   */
  private async checkFiniteParameters(stages: readonly StageRuntime[], what: 'gradient' | 'value', location: FaultLocation, options: StepOptions): Promise<void> {
    if (!options.checkFinite) return;
    const named: [string, Tensor][] = [];
    for (const stage of stages) {
      for (const name of stage.parameters.names()) {
        const tensor = what === 'gradient' ? stage.parameters.gradient(name) : stage.parameters.get(name);
        if (tensor && tensor.dtype === 'float32') named.push([name, tensor]);
      }
    }
    if (named.length === 0) return;
    const flags = tf.tidy(() => tf.stack(named.map(([, tensor]) => tf.all(tf.isFinite(tensor))).map((flag) => tf.cast(flag, 'int32'))));
    const values = await flags.data();
    flags.dispose();
    const bad = named.findIndex((_, i) => values[i] === 0);
    if (bad < 0) return;
    const [name] = named[bad];
    const detail = what === 'gradient' ? `the weight gradient of '${name}' contains NaN or Inf` : `the parameter '${name}' contains NaN or Inf after the update`;
    throw new RuntimeFault(diagnosticMessages.nonFinite, detail, location);
  }

  /** Runs the whole stream once (one optimizer step). */
  async runStep(options: StepOptions): Promise<StepReport> {
    const events: TraceEvent[] = [];
    const losses: Tensor[] = [];
    const corrects: Tensor[] = [];
    let counted = 0;
    let occupied = 0;
    let peakSlots = 0;
    this.peakStashBytes = 0;
    const instructions = this.device.instructions;
    for (let index = 0; index < instructions.length; index++) {
      const ins = instructions[index];
      const location = { ...instructionLocation(this.device, index, this.perStageOptimizer), step: options.step };
      this.current = location;
      this.observer?.(location);
      if (options.fault && options.fault.device === this.device.index && options.fault.instruction === index) {
        if (options.fault.kind === 'throw') throw new Error('injected fault');
        if (options.fault.kind === 'exit') process.exit(3);
        if (options.fault.kind === 'hang') await new Promise(() => {});
      }
      const started = options.traceOrigin !== undefined ? now() : 0;
      let waited = 0;
      this.lastTag = undefined;
      try {
        const work = this.execute(ins, location, options, losses, corrects, (count) => { counted += count; });
        waited = await (WAITS_FOR_PEERS.has(ins.op) ? work : settleWithin(options.opTimeoutMs, work));
      } catch (error) {
        if (error instanceof RuntimeFault) throw error;
        if (error instanceof OperationTimeout) {
          throw new RuntimeFault(diagnosticMessages.operationTimedOut, `${ins.op} ${error.message} (--op-timeout ${error.timeoutMs / 1000}); the run was stopped`, location);
        }
        throw new RuntimeFault(diagnosticMessages.runtimeInternal, error instanceof Error ? error.message : String(error), location);
      }
      occupied = this.slots.reduce((n, slot) => n + (slot ? 1 : 0), 0);
      peakSlots = Math.max(peakSlots, occupied);
      this.noteStash();
      if (options.traceOrigin !== undefined) {
        const ended = now();
        const letter = OP_LETTER[ins.op];
        const computeStart = started + waited;
        if (waited > 0) {
          events.push({ name: `wait ${ins.op}`, cat: 'wait', ph: 'X', ts: (started - options.traceOrigin) * 1000, dur: waited * 1000, pid: 0, tid: this.device.index, args: { stage: ins.stage, microbatch: ins.microbatch } });
        }
        events.push({
          name: letter ? `${letter}${ins.microbatch ?? ''}` + (this.stages.size > 1 ? ` s${ins.stage}` : '') : ins.op,
          cat: letter ? 'compute' : ins.op.startsWith('send') || ins.op.startsWith('recv') || ins.op === 'allreduce' ? 'communication' : 'other',
          ph: 'X', ts: (computeStart - options.traceOrigin) * 1000, dur: Math.max(0, ended - computeStart) * 1000,
          pid: 0, tid: this.device.index,
          args: {
            op: ins.op, stage: ins.stage, microbatch: ins.microbatch, slot: ins.slot, instruction: index,
            // Messages carry their tag, receives how long they waited (µs): in-situ profiling pairs them (runtime/profileInSitu.ts).
            ...(this.lastTag !== undefined ? { tag: this.lastTag, peer: this.peerOf(ins), waited: waited * 1000 } : {}),
          },
        });
      }
    }
    const leftovers = this.slots.filter((slot) => slot !== null).length;
    this.clearSlots();
    let loss = 0;
    let correct = 0;
    for (const value of losses) { loss += (await value.data())[0]; value.dispose(); }
    for (const value of corrects) { correct += (await value.data())[0]; value.dispose(); }
    if (leftovers > 0 && options.training) {
      // Slots still holding data at the end of a step mean the stream never freed them: a lowering bug worth surfacing.
      throw new RuntimeFault(diagnosticMessages.slotMisuse, `${leftovers} slot(s) still occupied at the end of the step`, { device: this.device.index, deviceName: this.device.name });
    }
    return { device: this.device.index, loss, correct, counted, peakSlots, peakActivationBytes: this.peakStashBytes, instructions: instructions.length, events };
  }

  /** Records the stash's bytes now (plus `transient`, state about to be dropped) toward this step's peak. */
  private noteStash(transient?: LayerState): void {
    const seen = new Set<unknown>();
    let bytes = 0;
    const count = (state: LayerState) => {
      for (const tensor of collectTensors(state)) {
        // Clones and reshapes share one buffer (dataId): the memory is held once.
        if (tensor.isDisposed || seen.has(tensor.dataId)) continue;
        seen.add(tensor.dataId);
        bytes += tensor.size * bytesPerElement(tensor.dtype);
      }
    };
    for (const slot of this.slots) {
      if (!slot) continue;
      count(slot.input);
      count(slot.saved);
      count(slot.pending);
      count(slot.logits);
      if (slot.skipInputs) count([...slot.skipInputs.values()]);
    }
    if (transient !== undefined) count(transient);
    if (bytes > this.peakStashBytes) this.peakStashBytes = bytes;
  }

  private clearSlots(): void {
    for (const slot of this.slots) if (slot) this.disposeSlot(slot);
    this.slots = this.slots.map(() => null);
  }

  private disposeSlot(slot: SlotContent): void {
    disposeState([slot.input, slot.target, slot.output, slot.saved, slot.outputGradient, slot.inputGradient, slot.pending, slot.logits, slot.statistics, [...(slot.peerStatistics?.values() ?? [])]]);
    for (const map of [slot.skipInputs, slot.skipOutputs, slot.skipOutputGradients, slot.skipInputGradients]) if (map) disposeState([...map.values()]);
  }

  /** Executes one instruction; returns milliseconds spent waiting for a message. */
  private async execute(ins: Instruction, location: FaultLocation, options: StepOptions, losses: Tensor[], corrects: Tensor[], count: (n: number) => void): Promise<number> {
    const step = options.step;
    const microbatch = ins.microbatch ?? 0;
    // Messages that name the stage at their other end: the vocabulary shards' broadcast, statistics and gradients.
    if (ins.peerStage !== undefined) return this.moveNamed(ins, location, step);
    switch (ins.op) {
      case 'load_microbatch': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        const { input, target } = this.loadTensors(step, microbatch);
        if (this.firstOfCopy(ins.stage) && !slot.input) slot.input = input; else input.dispose();
        if (this.lastOfCopy(ins.stage) && !slot.target) slot.target = target; else target.dispose();
        await this.checkFinite(slot.input, 'the input data', location, options);
        await this.checkFinite(slot.target, 'the target data', location, options);
        return 0;
      }
      case 'recv_act': {
        const producer = this.activationProducer(ins, false);
        const slot = this.open(this.slotIndex(ins, location), producer + 1, microbatch, location);
        const started = now();
        const [tensor] = await this.transport.receive(this.peerOf(ins), this.device.index, this.lastTag = `act:${producer}:${microbatch}`);
        slot.input?.dispose();
        slot.input = tensor;
        return now() - started;
      }
      case 'send_act': {
        const producer = this.activationProducer(ins, true);
        const slot = this.open(this.slotIndex(ins, location), producer, microbatch, location);
        if (!slot.output) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'send_act before the forward produced an output', location);
        const output = slot.output;
        slot.output = undefined;
        await this.transport.send(this.device.index, this.peerOf(ins), this.lastTag = `act:${producer}:${microbatch}`, [output]);
        return 0;
      }
      case 'recv_grad': {
        const sender = this.gradientSender(ins, false);
        const slot = this.open(this.slotIndex(ins, location), sender - 1, microbatch, location);
        const started = now();
        const [tensor] = await this.transport.receive(this.peerOf(ins), this.device.index, this.lastTag = `grad:${sender}:${microbatch}`);
        slot.outputGradient?.dispose();
        slot.outputGradient = tensor;
        return now() - started;
      }
      case 'send_grad': {
        const sender = this.gradientSender(ins, true);
        const slot = this.open(this.slotIndex(ins, location), sender, microbatch, location);
        if (!slot.inputGradient) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'send_grad before backward produced an input gradient', location);
        const gradient = slot.inputGradient;
        slot.inputGradient = undefined;
        await this.transport.send(this.device.index, this.peerOf(ins), this.lastTag = `grad:${sender}:${microbatch}`, [gradient]);
        return 0;
      }
      case 'recv_skip': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        const started = now();
        const [tensor] = await this.transport.receive(this.peerOf(ins), this.device.index, this.lastTag = `skip:${ins.edge}:${microbatch}`);
        const received = edgeMap(slot, 'skipInputs');
        received.get(ins.edge ?? 0)?.dispose();
        received.set(ins.edge ?? 0, tensor);
        return now() - started;
      }
      case 'send_skip': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        const tensor = takeEdge(slot, 'skipOutputs', ins.edge ?? 0, 'send_skip', location);
        await this.transport.send(this.device.index, this.peerOf(ins), this.lastTag = `skip:${ins.edge}:${microbatch}`, [tensor]);
        return 0;
      }
      case 'recv_skip_grad': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        const started = now();
        const [tensor] = await this.transport.receive(this.peerOf(ins), this.device.index, this.lastTag = `skipgrad:${ins.edge}:${microbatch}`);
        const gradients = edgeMap(slot, 'skipOutputGradients');
        gradients.get(ins.edge ?? 0)?.dispose();
        gradients.set(ins.edge ?? 0, tensor);
        return now() - started;
      }
      case 'send_skip_grad': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        const tensor = takeEdge(slot, 'skipInputGradients', ins.edge ?? 0, 'send_skip_grad', location);
        await this.transport.send(this.device.index, this.peerOf(ins), this.lastTag = `skipgrad:${ins.edge}:${microbatch}`, [tensor]);
        return 0;
      }
      case 'forward': {
        const stage = this.stage(ins.stage, location);
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        if (!slot.input) slot.input = this.localInput(ins.stage, microbatch, step, location);
        const result = callWithin(options.opTimeoutMs, () => this.forwardStage(stage, slot, this.context(step, microbatch, options.training), location));
        slot.output?.dispose();
        slot.output = result.output;
        // A vocabulary shard keeps its logits in the stash until its T pass.
        if (this.isShard(ins.stage)) {
          slot.logits?.dispose();
          slot.logits = result.output;
          slot.output = undefined;
        }
        if (this.ir.stages[ins.stage].forwardOnly === true) {
          // A forward-only stage (a frozen prefix) has no backward: its stash
          // existed only while the forward ran, as the compiler predicts
          // (the input first: the stash holds its own handle on it, as after
          // a plain forward).
          slot.input.dispose();
          slot.input = undefined;
          this.noteStash(result.saved);
          disposeState(result.saved);
        } else if (ins.checkpoint ?? stage.recompute) {
          // A checkpointing forward (an R is planned for this pair, or the
          // stage recomputes as a whole) keeps only its input in the slot.
          // The full stash existed until here: part of the peak the compiler predicts.
          this.noteStash(result.saved);
          disposeState(result.saved);
          slot.needsRecompute = true;
        } else {
          slot.saved = result.saved;
          // The saved state holds its own handles on what it needs of the input; the slot's copy would only pin the buffer.
          slot.input.dispose();
          slot.input = undefined;
        }
        await this.checkFinite(result.output, `the output of stage ${ins.stage}`, location, options);
        return 0;
      }
      case 'recompute': {
        const stage = this.stage(ins.stage, location);
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        await this.recompute(stage, slot, step, options, location);
        return 0;
      }
      case 'loss': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        if (this.isShard(ins.stage)) {
          await this.shardLoss(ins, slot, step, location, options, losses, corrects, count);
          return 0;
        }
        if (!slot.output) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'loss before the last stage produced an output', location);
        if (!slot.target) slot.target = this.loadTensors(step, microbatch).target;
        const result = callWithin(options.opTimeoutMs, () => computeLoss(this.lossName, slot.output!, slot.target!, 1 / this.ir.microbatches));
        await this.checkFinite(result.loss, 'the loss', location, options);
        await this.checkFinite(result.gradient, 'the gradient of the loss', location, options);
        losses.push(result.loss);
        if (result.correct) corrects.push(result.correct);
        count(result.count);
        slot.output.dispose();
        slot.output = undefined;
        slot.outputGradient?.dispose();
        slot.outputGradient = result.gradient;
        return 0;
      }
      case 'backward':
      case 'backward_input': {
        const stage = this.stage(ins.stage, location);
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        if (!slot.outputGradient) slot.outputGradient = this.localGradient(ins.stage, microbatch, location);
        if (slot.offloaded !== undefined) this.reload(slot);
        if (slot.saved === undefined) {
          if (!slot.needsRecompute) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'backward before forward', location);
          await this.recompute(stage, slot, step, options, location);
        }
        const context = this.context(step, microbatch, options.training);
        // Nobody consumes the input gradient of the first stage or of the first after a frozen prefix: its first layer may skip computing it.
        const sendsInputGradient = !this.firstOfCopy(ins.stage) && this.ir.stages[ins.stage - 1].forwardOnly !== true;
        const result = callWithin(options.opTimeoutMs, () => this.backwardStage(stage, slot, context, sendsInputGradient, location));
        disposeState(slot.saved);
        slot.saved = undefined;
        // A recompute stage kept its input for this backward; nothing reads it after.
        slot.input?.dispose();
        slot.input = undefined;
        slot.outputGradient.dispose();
        slot.outputGradient = undefined;
        slot.inputGradient = sendsInputGradient ? result.inputGradient : (result.inputGradient?.dispose(), null);
        await this.checkFinite(slot.inputGradient, `the input gradient of stage ${ins.stage}`, location, options);
        if (ins.op === 'backward') {
          callWithin(options.opTimeoutMs, () => stage.layer.backwardWeight(stage.parameters, result.pending, context));
          disposeState(result.pending);
          await this.checkFiniteParameters([stage], 'gradient', location, options);
        } else {
          slot.pending = result.pending;
        }
        return 0;
      }
      case 'backward_weight': {
        const stage = this.stage(ins.stage, location);
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        if (slot.pending === undefined) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'backward_weight before backward_input', location);
        callWithin(options.opTimeoutMs, () => stage.layer.backwardWeight(stage.parameters, slot.pending, this.context(step, microbatch, options.training)));
        disposeState(slot.pending);
        slot.pending = undefined;
        await this.checkFiniteParameters([stage], 'gradient', location, options);
        return 0;
      }
      case 'offload': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        if (slot.offloaded !== undefined) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'offload of a stash already in host memory', location);
        if (slot.saved !== undefined) {
          slot.offloaded = await toHost(slot.saved);
          disposeState(slot.saved);
          slot.saved = undefined;
        }
        return 0;
      }
      case 'reload': {
        const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
        this.reload(slot);
        return 0;
      }
      case 'free': {
        const index = this.slotIndex(ins, location);
        const slot = this.slots[index];
        if (slot) {
          if (slot.stage !== ins.stage || (ins.microbatch !== undefined && slot.microbatch !== ins.microbatch)) {
            throw new RuntimeFault(diagnosticMessages.slotMisuse, `free of slot ${index} which holds stage ${slot.stage} microbatch ${slot.microbatch}`, location);
          }
          this.disposeSlot(slot);
          this.slots[index] = null;
        }
        return 0;
      }
      case 'allreduce': {
        const stage = this.stage(ins.stage, location);
        const group = ins.group ?? [this.device.index];
        const started = now();
        await this.allreduce(stage, group, step);
        const waited = now() - started;
        await this.checkFiniteParameters([stage], 'gradient', location, options);
        return waited;
      }
      case 'optimizer_step': {
        if (!options.applyOptimizer) return 0;
        const targets = this.perStageOptimizer ? [this.stage(ins.stage, location)] : [...this.stages.values()];
        for (const stage of targets) callWithin(options.opTimeoutMs, () => stage.optimizer.apply(stage.parameters));
        await this.checkFiniteParameters(targets, 'value', location, options);
        return 0;
      }
      default:
        // run() validates the IR first; a stream built some other way still never skips an op it does not know.
        throw new RuntimeFault(diagnosticMessages.runtimeIrInvalid, `unknown op ${JSON.stringify((ins as { op: unknown }).op)}`, location);
    }
  }

  /**
   * A message to or from a vocabulary shard (Instruction.peerStage): the
   * last model stage's output to each shard (sent as a copy while more
   * sends of it follow), a shard's statistics to each other shard, a
   * shard's part of the input gradient to the last model stage, which sums
   * the parts it receives.
   */
  private async moveNamed(ins: Instruction, location: FaultLocation, step: number): Promise<number> {
    const microbatch = ins.microbatch ?? 0;
    const ends = messageStages(ins);
    if (ends === undefined) throw new RuntimeFault(diagnosticMessages.runtimeIrInvalid, `${ins.op} names a peerStage, but only sends and receives do`, location);
    const tag = this.lastTag = `${ends.kind}:${ends.from}>${ends.to}:${microbatch}`;
    const slot = this.open(this.slotIndex(ins, location), ins.stage, microbatch, location);
    const peer = this.peerOf(ins);
    const started = now();
    switch (ins.op) {
      case 'send_act': {
        if (!slot.output) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'send_act before the forward produced an output', location);
        const next = this.device.instructions[this.positionOf(ins) + 1];
        const more = next !== undefined && next.op === 'send_act' && next.stage === ins.stage && next.microbatch === ins.microbatch;
        const output = more ? slot.output.clone() : slot.output;
        if (!more) slot.output = undefined;
        await this.transport.send(this.device.index, peer, tag, [output]);
        return 0;
      }
      case 'recv_act': {
        const [tensor] = await this.transport.receive(peer, this.device.index, tag);
        slot.input?.dispose();
        slot.input = tensor;
        return now() - started;
      }
      case 'send_grad': {
        if (!slot.inputGradient) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'send_grad before backward produced an input gradient', location);
        const gradient = slot.inputGradient;
        slot.inputGradient = undefined;
        await this.transport.send(this.device.index, peer, tag, [gradient]);
        return 0;
      }
      case 'recv_grad': {
        const [tensor] = await this.transport.receive(peer, this.device.index, tag);
        if (slot.outputGradient === undefined) slot.outputGradient = tensor;
        else {
          const sum = tf.add(slot.outputGradient, tensor);
          slot.outputGradient.dispose();
          tensor.dispose();
          slot.outputGradient = sum;
        }
        return now() - started;
      }
      case 'send_stats': {
        await this.transport.send(this.device.index, peer, tag, [this.ownStatistics(ins, slot, step, location).clone()]);
        return 0;
      }
      case 'recv_stats': {
        const [tensor] = await this.transport.receive(peer, this.device.index, tag);
        slot.peerStatistics ??= new Map();
        slot.peerStatistics.get(ends.from)?.dispose();
        slot.peerStatistics.set(ends.from, tensor);
        return now() - started;
      }
      default:
        throw new RuntimeFault(diagnosticMessages.runtimeIrInvalid, `${ins.op} names a peerStage, but only sends and receives do`, location);
    }
  }

  private positionOf(ins: Instruction): number {
    const index = this.current.instruction;
    return index !== undefined && this.device.instructions[index] === ins ? index : this.device.instructions.indexOf(ins);
  }

  /** A shard's row statistics (computed once, at its first send or its loss). */
  private ownStatistics(ins: Instruction, slot: SlotContent, step: number, location: FaultLocation): Tensor {
    if (slot.statistics !== undefined) return slot.statistics;
    if (!slot.logits) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'vocabulary statistics before the S pass produced logits', location);
    if (!slot.target) slot.target = this.loadTensors(step, slot.microbatch).target;
    const shard = this.ir.stages[ins.stage].vocabShard!;
    slot.statistics = vocabShardStatistics(slot.logits, slot.target, shard.shard * shard.units);
    return slot.statistics;
  }

  /**
   * The loss of a vocabulary shard's T pass: every shard's statistics make
   * the softmax's normaliser; the loss (the same on every shard) is counted
   * once, by shard 0, the correct predictions by the shard that holds each
   * target; the logits become softmax − one-hot, the shard's output gradient.
   */
  private async shardLoss(ins: Instruction, slot: SlotContent, step: number, location: FaultLocation, options: StepOptions, losses: Tensor[], corrects: Tensor[], count: (n: number) => void): Promise<void> {
    const shard = this.ir.stages[ins.stage].vocabShard!;
    const own = this.ownStatistics(ins, slot, step, location);
    const first = this.ir.stages.length - shard.shards;
    const statistics: Tensor[] = [];
    for (let k = 0; k < shard.shards; k++) {
      const part = first + k === ins.stage ? own : slot.peerStatistics?.get(first + k);
      if (!part) throw new RuntimeFault(diagnosticMessages.slotMisuse, `the T pass of shard ${shard.shard} has no statistics from shard ${k}`, location);
      statistics.push(part);
    }
    const result = callWithin(options.opTimeoutMs, () => vocabShardLoss(slot.logits!, slot.target!, shard.shard * shard.units, statistics, 1 / this.ir.microbatches));
    await this.checkFinite(result.loss, 'the loss', location, options);
    await this.checkFinite(result.gradient, 'the gradient of the loss', location, options);
    if (shard.shard === 0) {
      losses.push(result.loss);
      count(result.count);
    } else result.loss.dispose();
    if (result.correct) corrects.push(result.correct);
    disposeState([slot.logits, slot.statistics, [...(slot.peerStatistics?.values() ?? [])]]);
    slot.logits = undefined;
    slot.statistics = undefined;
    slot.peerStatistics = undefined;
    slot.outputGradient?.dispose();
    slot.outputGradient = result.gradient;
  }

  /**
   * The stage's forward with its cross-stage skips: the received ones (kept
   * in the slot until the backward) feed its merges, and what later stages'
   * merges read is put in the slot for its send_skip, one tensor per edge.
   */
  private forwardStage(stage: StageRuntime, slot: SlotContent, context: RunContext, location: FaultLocation): { output: Tensor; saved: LayerState } {
    if (stage.skipsIn.size === 0 && stage.skipsOut.size === 0) return stage.layer.forward(stage.parameters, slot.input!, context);
    const received = new Map<string, Tensor>();
    for (const [edge, source] of stage.skipsIn) {
      const tensor = slot.skipInputs?.get(edge);
      if (tensor === undefined) throw new RuntimeFault(diagnosticMessages.slotMisuse, `forward of stage ${stage.index} before the skip of edge ${edge} (from '${source}') arrived`, location);
      received.set(source, tensor);
    }
    const result = stage.layer.forwardWithSkips(stage.parameters, slot.input!, context, received);
    const outputs = edgeMap(slot, 'skipOutputs');
    for (const [edge, source] of stage.skipsOut) {
      outputs.get(edge)?.dispose();
      outputs.set(edge, result.sent.get(source)!.clone());
    }
    disposeState([...result.sent.values()]);
    return { output: result.output, saved: result.saved };
  }

  /**
   * The stage's backward-input with its cross-stage skips: the gradients
   * returned for the skips it sent join their sources' output gradients
   * (summed when one source went to several stages), and the gradients of
   * the skips it received are put in the slot for send_skip_grad. The
   * received skips are freed here, as the stash is.
   */
  private backwardStage(stage: StageRuntime, slot: SlotContent, context: RunContext, needInputGradient: boolean, location: FaultLocation): { inputGradient: Tensor | null; pending: LayerState } {
    if (stage.skipsIn.size === 0 && stage.skipsOut.size === 0) return stage.layer.backwardInput(stage.parameters, slot.saved, slot.outputGradient!, context, needInputGradient);
    const returned = new Map<string, Tensor>();
    for (const [edge, source] of stage.skipsOut) {
      const gradient = slot.skipOutputGradients?.get(edge);
      if (gradient === undefined) throw new RuntimeFault(diagnosticMessages.slotMisuse, `backward of stage ${stage.index} before the gradient of skip edge ${edge} (of '${source}') arrived`, location);
      const earlier = returned.get(source);
      returned.set(source, earlier === undefined ? gradient.clone() : tf.add(earlier, gradient));
      earlier?.dispose();
    }
    const result = stage.layer.backwardInputWithSkips(stage.parameters, slot.saved, slot.outputGradient!, context, needInputGradient, returned);
    disposeState([...returned.values()]);
    const gradients = edgeMap(slot, 'skipInputGradients');
    for (const [edge, source] of stage.skipsIn) {
      // A forward-only source stage (a frozen prefix) takes no gradient back.
      if (this.ir.stages[this.ir.skipEdges![edge].sourceStage].forwardOnly === true) continue;
      const gradient = result.skipGradients.get(source);
      if (gradient === undefined) throw new RuntimeFault(diagnosticMessages.slotMisuse, `stage ${stage.index} computed no gradient for the skip of edge ${edge} (from '${source}')`, location);
      gradients.set(edge, gradient.clone());
    }
    disposeState([...result.skipGradients.values()]);
    for (const map of [slot.skipInputs, slot.skipOutputGradients]) if (map) { disposeState([...map.values()]); map.clear(); }
    return { inputGradient: result.inputGradient, pending: result.pending };
  }

  private async recompute(stage: StageRuntime, slot: SlotContent, step: number, options: StepOptions, location: FaultLocation): Promise<void> {
    if (!slot.input) throw new RuntimeFault(diagnosticMessages.slotMisuse, 'recompute without the stage input', location);
    const result = callWithin(options.opTimeoutMs, () => stage.layer.forward(stage.parameters, slot.input!, this.context(step, slot.microbatch, options.training)));
    try {
      await this.checkFinite(result.output, `the recomputed output of stage ${stage.index}`, location, options);
    } catch (error) {
      result.output.dispose();
      disposeState(result.saved);
      throw error;
    }
    result.output.dispose();
    disposeState(slot.saved);
    slot.saved = result.saved;
    slot.needsRecompute = false;
    // As after a plain forward: the rebuilt state holds its own handles on the
    // input, and the checkpoint would pin a second buffer where a backend
    // copies on clone (wasm), beyond what the compiler predicts.
    slot.input.dispose();
    slot.input = undefined;
  }

  private reload(slot: SlotContent): void {
    if (slot.offloaded === undefined) return;
    slot.saved = fromHost(slot.offloaded);
    slot.offloaded = undefined;
  }

  /** Input of a stage whose predecessor ran on this device without a send/recv pair. */
  private localInput(stage: number, microbatch: number, step: number, location: FaultLocation): Tensor {
    if (this.firstOfCopy(stage)) return this.loadTensors(step, microbatch).input;
    const previous = this.find(stage - 1, microbatch);
    if (!previous?.output) throw new RuntimeFault(diagnosticMessages.slotMisuse, `forward of stage ${stage} has no input (no recv_act, and stage ${stage - 1} has no output here)`, location);
    const input = previous.output;
    previous.output = undefined;
    return input;
  }

  private localGradient(stage: number, microbatch: number, location: FaultLocation): Tensor {
    const next = this.find(stage + 1, microbatch);
    if (!next?.inputGradient) throw new RuntimeFault(diagnosticMessages.slotMisuse, `backward of stage ${stage} has no output gradient (no recv_grad or loss)`, location);
    const gradient = next.inputGradient;
    next.inputGradient = undefined;
    return gradient;
  }

  /**
   * Combines a stage's gradients over its group: summed over the model
   * copies (each copy's gradient is already its half of the batch mean) and
   * averaged over the replicas. Every member sums in device order, so all
   * end bitwise equal. The two copies of a stage are different IR stages,
   * so messages are tagged by the copy-0 stage they share.
   */
  private async allreduce(stage: StageRuntime, group: readonly number[], step: number): Promise<void> {
    const members = [...group].sort((a, b) => a - b);
    if (members.length < 2) return;
    const modelStage = this.ir.stages[stage.index].modelStage ?? stage.index;
    const replicasInGroup = members.length / (this.ir.copies ?? 1);
    // Frozen parameters have no gradient on any member: nothing to combine.
    const frozen = new Set(stage.parameters.specs.filter((spec) => spec.frozen === true).map((spec) => spec.name));
    const names = stage.parameters.names().filter((name) => !frozen.has(name));
    const own = names.map((name) => stage.parameters.gradient(name) ?? tf.zeros(stage.parameters.get(name).shape));
    for (const peer of members) {
      if (peer === this.device.index) continue;
      await this.transport.send(this.device.index, peer, `allreduce:${modelStage}:${step}`, own.map((t) => t.clone()));
    }
    const contributions: Tensor[][] = [];
    for (const member of members) {
      contributions.push(member === this.device.index ? own : await this.transport.receive(member, this.device.index, `allreduce:${modelStage}:${step}`));
    }
    names.forEach((name, i) => {
      const averaged = tf.tidy(() => tf.div(tf.addN(contributions.map((c) => c[i])), replicasInGroup));
      stage.parameters.setGradient(name, averaged);
    });
    for (const list of contributions) for (const tensor of list) if (!tensor.isDisposed) tensor.dispose();
  }
}

/** Backends whose tensors live in this thread's memory, where reading one back is a copy, not a device sync. */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm']);

/**
 * Whether every element is finite. On host-memory backends a scan of the
 * values beats two kernel launches (isFinite, all) and their read-back at
 * microbatch sizes; elsewhere one boolean comes back instead of the tensor.
 */
async function allFinite(tensor: Tensor): Promise<boolean> {
  if (HOST_MEMORY_BACKENDS.has(tf.getBackend())) {
    const values = await tensor.data() as Float32Array;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
    return true;
  }
  const finite = tf.tidy(() => tf.all(tf.isFinite(tensor)));
  const ok = (await finite.data())[0];
  finite.dispose();
  return ok === 1;
}

function bytesPerElement(dtype: tf.DataType): number {
  return dtype === 'bool' ? 1 : dtype === 'complex64' ? 8 : 4;
}

// Tensors of one stash that share a buffer (a layer's output kept as the
// next layer's input) go to host memory once and come back sharing one
// buffer again, so a reloaded stash holds the bytes it held before.
async function toHost(state: LayerState, copied: Map<unknown, tf.TypedArray> = new Map()): Promise<unknown> {
  if (state instanceof tf.Tensor) {
    let values = copied.get(state.dataId);
    if (values === undefined) copied.set(state.dataId, (values = await state.data() as tf.TypedArray));
    const host: HostTensor = { host: true, shape: state.shape, dtype: state.dtype, values };
    return host;
  }
  if (Array.isArray(state)) {
    const out: unknown[] = [];
    for (const item of state) out.push(await toHost(item, copied));
    return out;
  }
  if (state !== null && typeof state === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(state)) out[key] = await toHost(value, copied);
    return out;
  }
  return state;
}

function fromHost(state: unknown, made: Map<tf.TypedArray, Tensor> = new Map()): LayerState {
  if (state !== null && typeof state === 'object' && (state as HostTensor).host === true) {
    const host = state as HostTensor;
    const first = made.get(host.values);
    if (first === undefined) {
      const tensor = tf.tensor(host.values, host.shape, host.dtype);
      made.set(host.values, tensor);
      return tensor;
    }
    // Another view of a buffer already back on the device: a new handle on the same data.
    return tf.reshape(first, host.shape);
  }
  if (Array.isArray(state)) return state.map((item) => fromHost(item, made));
  if (state !== null && typeof state === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(state)) out[key] = fromHost(value, made);
    return out;
  }
  return state;
}

export { collectTensors };
