// Worker-thread mode: one worker per device, each with its own TensorFlow.js
// engine and backend. Devices that exchange tensors get a MessageChannel of
// their own, so activations and gradients go from worker to worker as
// transferred ArrayBuffers without waking the main thread, which shares the
// cores. The main thread starts steps and watches: a worker that throws,
// exits or makes no progress within the timeout (read from a shared progress
// board, not from messages) stops the whole run with an error that names the
// device and the instruction it was on.

import * as tf from '@tensorflow/tfjs-core';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { IrProgram } from '../compiler/ir/types.ts';
import type { BackendName } from './backends.ts';
import { createDataset, dataShapes, type Dataset } from './data/index.ts';
import type { StageState } from './deviceHost.ts';
import { instructionLocation, optimizerStepPerStage, type StepReport } from './interpreter.ts';
import { describeLocation, RuntimeFault, type FaultLocation } from './messages.ts';
import { deviceOfStage, joinVocabShards, oneCopyStages, stagesOnDevice, takeSkipsInto, vocabShardStages } from './model.ts';
import { evaluateHeldOut, summarize, type Evaluation, type SessionStepOptions, type StepSummary, type TrainingSession } from './session.ts';
import { fromWire, ProgressBoard, toWire, type ForwardReply, type WireTensor, type WorkerInit, type WorkerReply, type WorkerRequest } from './worker.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

// Sources run as .ts (type stripping); the published build runs the emitted .js.
const moduleExtension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface WorkerSessionOptions {
  readonly backend: BackendName;
  readonly baseDirectory: string;
  /** A device silent this long (while a call is outstanding) counts as hung. */
  readonly timeoutMs?: number;
  readonly dataset?: Dataset;
}

type RequestBody = WorkerRequest extends infer R ? R extends { type: 'call' } ? Omit<R, 'id' | 'type'> : never : never;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface DeviceWorker {
  readonly device: number;
  readonly name: string;
  readonly worker: Worker;
  /** Row on the progress board. */
  readonly row: number;
  readonly perStageOptimizer: boolean;
}

/** Pairs of devices that exchange tensors: send/recv peers (within a replica, as the interpreter maps them) and all-reduce groups. */
function communicatingPairs(ir: IrProgram): [number, number][] {
  const pairs = new Set<string>();
  const add = (a: number, b: number): void => {
    if (a !== b) pairs.add(a < b ? `${a},${b}` : `${b},${a}`);
  };
  for (const device of ir.devices) {
    for (const ins of device.instructions) {
      if (ins.peer !== undefined) add(device.index, device.replica * ir.ranks + (ins.peer % ir.ranks));
      for (const member of ins.group ?? []) add(device.index, member);
    }
  }
  return [...pairs].map((pair) => pair.split(',').map(Number) as [number, number]);
}

export class WorkerSession implements TrainingSession {
  readonly ir: IrProgram;
  readonly dataset: Dataset;
  private readonly workers: DeviceWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private lastActivity = Date.now();
  private failure: RuntimeFault | undefined;
  private closing = false;
  private readonly watchdog: NodeJS.Timeout;
  private readonly timeoutMs: number;
  private readonly readyPromise: Promise<void>;
  private readonly board: ProgressBoard;
  /** The step being run, for fault messages. */
  private currentStep: number | undefined;
  /** Board ticks summed over the workers at the last check: a change is progress. */
  private lastTicks = -1;

  private constructor(ir: IrProgram, options: WorkerSessionOptions) {
    this.ir = ir;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.dataset = options.dataset ?? createDataset(ir.data, dataShapes(ir), options.baseDirectory);
    const readiness: Promise<void>[] = [];
    const progress = ProgressBoard.allocate(ir.devices.length);
    this.board = new ProgressBoard(progress);
    const peers = new Map<number, Record<number, MessagePort>>(ir.devices.map((d) => [d.index, {}]));
    for (const [a, b] of communicatingPairs(ir)) {
      const { port1, port2 } = new MessageChannel();
      peers.get(a)![b] = port1;
      peers.get(b)![a] = port2;
    }
    ir.devices.forEach((device, row) => {
      const ports = peers.get(device.index)!;
      const init: WorkerInit = { ir, device: device.index, backend: options.backend, baseDirectory: options.baseDirectory, peers: ports, progress, progressRow: row };
      const worker = new Worker(new URL(`./worker${moduleExtension}`, import.meta.url), { workerData: init, transferList: Object.values(ports) });
      const entry: DeviceWorker = { device: device.index, name: device.name, worker, row, perStageOptimizer: optimizerStepPerStage(device, stagesOnDevice(ir, device.index).length) };
      this.workers.push(entry);
      readiness.push(new Promise((resolve, reject) => {
        this.pending.set(-1 - device.index, { resolve: () => resolve(), reject });
      }));
      worker.on('message', (message: WorkerReply) => this.onMessage(entry, message));
      worker.on('error', (error) => this.fail(new RuntimeFault(diagnosticMessages.workerFailed, `the worker threw: ${error.message}`, this.locationOf(entry))));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new RuntimeFault(diagnosticMessages.workerExited, `the worker exited with code ${code}`, this.locationOf(entry)));
      });
    });
    this.readyPromise = Promise.all(readiness).then(() => undefined);
    this.watchdog = setInterval(() => this.checkProgress(), Math.min(1000, this.timeoutMs / 4));
    this.watchdog.unref();
  }

  static async create(ir: IrProgram, options: WorkerSessionOptions): Promise<WorkerSession> {
    const session = new WorkerSession(ir, options);
    try {
      await session.readyPromise;
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  private onMessage(entry: DeviceWorker, message: WorkerReply): void {
    this.lastActivity = Date.now();
    switch (message.type) {
      case 'ready': {
        const ready = this.pending.get(-1 - entry.device);
        this.pending.delete(-1 - entry.device);
        ready?.resolve(undefined);
        return;
      }
      case 'result': {
        const call = this.pending.get(message.id);
        this.pending.delete(message.id);
        call?.resolve(message.value);
        return;
      }
      case 'error': {
        const detail = message.message.replace(/^PIPE\d+: /, '');
        // The worker's message already names its location when it came from the interpreter.
        const fault = new RuntimeFault(message.code, detail.includes('device ') ? detail : `${describeLocation(this.locationOf(entry))}: ${detail}`);
        if (message.id < 0) {
          const ready = this.pending.get(-1 - entry.device);
          this.pending.delete(-1 - entry.device);
          ready?.reject(fault);
        }
        this.fail(fault);
        return;
      }
    }
  }

  /** Where a worker is, from the progress board: the instruction it last started, or just the device before its first. */
  private locationOf(entry: DeviceWorker): FaultLocation {
    const { instruction } = this.board.read(entry.row);
    const device = this.ir.devices[entry.row];
    const step = this.currentStep === undefined ? {} : { step: this.currentStep };
    return instruction >= 0 && instruction < device.instructions.length
      ? { ...instructionLocation(device, instruction, entry.perStageOptimizer), ...step }
      : { device: entry.device, deviceName: entry.name, ...step };
  }

  private checkProgress(): void {
    if (this.pending.size === 0 || this.failure) return;
    const ticks = this.workers.reduce((sum, w) => sum + this.board.read(w.row).ticks, 0);
    if (ticks !== this.lastTicks) {
      this.lastTicks = ticks;
      this.lastActivity = Date.now();
    }
    if (Date.now() - this.lastActivity < this.timeoutMs) return;
    const stuck = this.workers.filter((w) => !this.board.read(w.row).waiting);
    const blamed = stuck.length > 0 ? stuck : this.workers;
    const where = blamed.map((w) => describeLocation(this.locationOf(w))).join('; ');
    this.fail(new RuntimeFault(diagnosticMessages.workerHung, `no progress for ${Math.round(this.timeoutMs / 1000)} s; stopped at ${where}`));
  }

  /** Stops everything: terminates every worker and rejects every outstanding call. */
  private fail(fault: RuntimeFault): void {
    if (this.failure || this.closing) return;
    this.failure = fault;
    for (const call of this.pending.values()) call.reject(fault);
    this.pending.clear();
    void this.terminate();
  }

  private async terminate(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private call<T>(entry: DeviceWorker, body: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      entry.worker.postMessage({ type: 'call', id, ...body } as WorkerRequest, transfer);
    });
  }

  private replicaZero(): DeviceWorker[] {
    return this.workers.filter((w) => this.ir.devices.find((d) => d.index === w.device)?.replica === 0);
  }

  async step(options: SessionStepOptions): Promise<StepSummary> {
    const started = performance.now();
    this.lastActivity = Date.now();
    this.currentStep = options.step;
    const reports = await Promise.all(this.workers.map((w) => this.call<StepReport>(w, { method: 'step', options })));
    this.currentStep = undefined;
    return summarize(this.ir, options.step, reports, (performance.now() - started) / 1000);
  }

  async gradients(): Promise<Record<string, Float32Array>> {
    const parts = await Promise.all(this.replicaZero().map((w) => this.call<Record<string, Float32Array>>(w, { method: 'gradients' })));
    return joinVocabShards(this.ir, Object.assign({}, ...parts));
  }

  async clearGradients(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.call(w, { method: 'clearGradients' })));
  }

  async state(): Promise<Record<number, StageState>> {
    const parts = await Promise.all(this.replicaZero().map((w) => this.call<Record<number, StageState>>(w, { method: 'state' })));
    return Object.assign({}, ...parts);
  }

  async loadState(state: Readonly<Record<number, StageState>>): Promise<void> {
    await Promise.all(this.workers.map((w) => this.call(w, { method: 'loadState', state: state as Record<number, StageState> })));
  }

  async evaluate(maxExamples = Number.POSITIVE_INFINITY): Promise<Evaluation> {
    return evaluateHeldOut(this.ir, this.dataset, maxExamples, async (input) => {
      let wire: WireTensor = await toWire(input);
      input.dispose();
      const workerOf = (stage: number) => {
        const entry = this.workers.find((w) => w.device === deviceOfStage(this.ir, stage, 0));
        if (!entry) throw new Error(`no worker runs stage ${stage}`);
        return entry;
      };
      // Skips in flight between stages, by edge: each stage takes the ones its merges read.
      const inFlight = new Map<number, WireTensor>();
      for (const stage of oneCopyStages(this.ir)) {
        const entry = workerOf(stage.index);
        const skips = Object.fromEntries(takeSkipsInto(this.ir, stage.index, inFlight));
        const reply = await this.call<ForwardReply>(entry, { method: 'forward', stage: stage.index, input: wire, skips }, [wire.buffer, ...Object.values(skips).map((skip) => skip.buffer)]);
        wire = reply.output;
        for (const [edge, skip] of Object.entries(reply.skips)) inFlight.set(Number(edge), skip);
      }
      // With vocab_parallel each shard's logits, joined along the classes.
      const shards = vocabShardStages(this.ir);
      if (shards.length === 0) return fromWire(wire);
      const hidden = wire;
      const parts = await Promise.all(shards.map((stage) => {
        const copy = { ...hidden, buffer: hidden.buffer.slice(0) };
        return this.call<ForwardReply>(workerOf(stage.index), { method: 'forward', stage: stage.index, input: copy, skips: {} }, [copy.buffer]);
      }));
      const tensors = parts.map((part) => fromWire(part.output));
      const logits = tf.concat(tensors, tensors[0].rank - 1);
      tf.dispose(tensors);
      return logits;
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    if (!this.failure) {
      try {
        await Promise.race([
          Promise.all(this.workers.map((w) => this.call(w, { method: 'close' }))),
          new Promise((resolve) => setTimeout(resolve, 2000)),
        ]);
      } catch {
        // Closing after a failure: the workers are terminated below anyway.
      }
    }
    await this.terminate();
  }
}
