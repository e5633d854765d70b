// The runtime's public face: train an IrProgram (`run`), check its
// gradients against single-device training (`verify`), measure its stage
// costs (`profile`), and list the backends this machine can run.

import { realpathSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { IrProgram } from '../compiler/ir/types.ts';
import { instructionOps, validateIr as validateIrSchema } from '../compiler/ir/schema.ts';
import type { CostModel, StageTimes } from '../compiler/cost/types.ts';
import { listBackends, useBackend, type BackendName, type BackendStatus } from './backends.ts';
import { programFingerprint, readCheckpoint, removeStaleTemporaries, writeCheckpoint } from './checkpoint.ts';
import { BatchFeed, createDataset, dataShapes, type Dataset } from './data/index.ts';
import { loadExternLayers, type ExternRegistry } from './layers/registry.ts';
import { disposeState, type Tensor } from './layers/types.ts';
import { computeLoss, parseLoss } from './loss.ts';
import { RuntimeFault } from './messages.ts';
import { buildStage } from './model.ts';
import { ReferenceTrainer, compareGradients } from './reference.ts';
import { InProcessSession, type Evaluation, type StepSummary, type TrainingSession } from './session.ts';
import { measuredBubble, traceDocument, type TraceEvent } from './trace.ts';
import { now } from './interpreter.ts';
import { WorkerSession } from './workers.ts';
import { costsFromTraces, traceSteps } from './profileInSitu.ts';
import { torchExportTensors, type ExportedTensor, type TorchExportTensors } from './torchExport.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export { listBackends, useBackend, type BackendName, type BackendStatus };
export { defineLayer } from './extern.ts';
export { readExternModule } from './externReader.ts';
export { BACKEND_NAMES, chooseBackend, DEFAULT_BACKEND, FALLBACK_BACKEND, isBackendName, type BackendChoice } from './backends.ts';
export { measuredBubble, type TraceEvent } from './trace.ts';
// For benchmarks that train the same model in plain TensorFlow.js beside the pipeline.
export { BatchFeed, createDataset, dataShapes } from './data/index.ts';
export { initialValues } from './parameters.ts';
export { RuntimeFault } from './messages.ts';
export type { Evaluation, StepSummary } from './session.ts';
export type { ExportedTensor, TorchExportTensors } from './torchExport.ts';

export type ExecutionMode = 'in-process' | 'workers';

export interface SessionOptions {
  readonly backend?: BackendName;
  readonly mode?: ExecutionMode;
  /** Where relative data paths and extern layer modules resolve (default: the working directory). */
  readonly baseDirectory?: string;
  /** Worker mode: a device silent this long counts as hung (ms). */
  readonly timeoutMs?: number;
  /** Replaces the data source the IR names (tests, benchmarks). */
  readonly dataset?: Dataset;
  /**
   * Folders extern layer modules may be imported from (default: the base
   * directory). Importing a module runs it, so IR from elsewhere cannot
   * make the runtime load any file it names; `pipec` passes the project
   * and its --allow-read folders, the ones the compiler read the modules from.
   */
  readonly externFolders?: readonly string[];
}

export interface RunOptions extends SessionOptions {
  readonly steps?: number;
  readonly checkpointDirectory?: string;
  /** Also write a checkpoint every this many steps (always at the end). */
  readonly checkpointEvery?: number;
  readonly resumeDirectory?: string;
  readonly trace?: boolean;
  readonly evalEvery?: number;
  readonly evalExamples?: number;
  readonly checkFinite?: boolean;
  /**
   * An instruction whose computation runs longer than this (ms) stops the
   * run with PIPE6251, naming it; in-process this interrupts even a
   * synchronous loop in an extern layer (runtime/opTimeout.ts).
   */
  readonly opTimeoutMs?: number;
  readonly onStep?: (record: StepRecord) => void;
  readonly onEvaluation?: (step: number, evaluation: Evaluation) => void;
}

export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly seconds: number;
  readonly examplesPerSecond: number;
}

export interface RunResult {
  readonly startStep: number;
  readonly steps: readonly StepRecord[];
  /** Loss of every step from 0, including those before a resume. */
  readonly lossHistory: readonly number[];
  readonly evaluations: readonly { readonly step: number; readonly evaluation: Evaluation }[];
  readonly final?: Evaluation;
  readonly peakSlots: readonly number[];
  readonly predictedSlots: readonly number[];
  /** Per device, the most bytes its activation stash held (StepReport.peakActivationBytes), over all steps. */
  readonly peakActivationBytes: readonly number[];
  /** Per device, the compiler's prediction of that peak (IrDevice.memory.activations). */
  readonly predictedActivationBytes: readonly number[];
  readonly examplesPerSecond: number;
  readonly seconds: number;
  readonly trace?: ReturnType<typeof traceDocument>;
  /** Bubble fraction measured from the trace of the last traced step. */
  readonly measuredBubble?: number;
  readonly checkpoint?: string;
}

/**
 * The IR a caller hands the library may come from anywhere (a file, another
 * tool, a hand edit), so it is checked against the IR's JSON schema before
 * anything runs: an unknown op is refused by name, not skipped.
 */
export function assertValidIr(ir: unknown): asserts ir is IrProgram {
  const validation = validateIrSchema(ir);
  if (validation.valid) return;
  const unknownOps: string[] = [];
  const devices = (ir as { devices?: unknown }).devices;
  if (Array.isArray(devices)) {
    devices.forEach((device: { name?: unknown; instructions?: unknown }, d) => {
      if (!Array.isArray(device?.instructions)) return;
      device.instructions.forEach((instruction: { op?: unknown }, i) => {
        if (!(instructionOps as readonly unknown[]).includes(instruction?.op)) unknownOps.push(`device ${String(device.name ?? d)} instruction ${i} has the unknown op ${JSON.stringify(instruction?.op)}`);
      });
    });
  }
  const problems = unknownOps.length > 0 ? unknownOps : validation.errors;
  const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
  throw new RuntimeFault(diagnosticMessages.runtimeIrInvalid, `the IR does not match the IR schema: ${shown}${unknownOps.length > 0 ? ` (the ops are ${instructionOps.join(', ')})` : ''}`);
}

function baseDirectoryOf(options: SessionOptions): string {
  return options.baseDirectory ?? process.cwd();
}

/** The extern modules the IR names, each inside one of `folders` (links followed), or a PIPE6011 naming the first that is not. */
function assertExternsInside(ir: IrProgram, baseDirectory: string, folders: readonly string[]): void {
  const real = (path: string): string => {
    try {
      return realpathSync(path);
    } catch {
      return resolvePath(path);
    }
  };
  const roots = folders.map((folder) => real(resolvePath(baseDirectory, folder)));
  const visit = (layer: IrProgram['model']['layers'][number]): void => {
    if (layer.implementation) {
      const file = real(resolvePath(baseDirectory, layer.implementation));
      if (!roots.some((root) => file === root || file.startsWith(root.endsWith(sep) ? root : root + sep))) {
        throw new RuntimeFault(diagnosticMessages.externLayer,
          `the module of extern layer '${layer.operator}', ${layer.implementation}, is outside ${roots.join(' and ')}; it was not loaded (allow its folder with --allow-read DIR, or SessionOptions.externFolders)`);
      }
    }
    layer.children.forEach(visit);
  };
  ir.model.layers.forEach(visit);
}

async function loadExterns(ir: IrProgram, baseDirectory: string): Promise<ExternRegistry> {
  try {
    return await loadExternLayers(ir.model.layers, (path) => pathToFileURL(isAbsolute(path) ? path : resolvePath(baseDirectory, path)).href);
  } catch (error) {
    throw new RuntimeFault(diagnosticMessages.externLayer, (error as Error).message);
  }
}

function makeDataset(ir: IrProgram, options: SessionOptions): Dataset {
  if (options.dataset) return options.dataset;
  try {
    return createDataset(ir.data, dataShapes(ir), baseDirectoryOf(options));
  } catch (error) {
    throw new RuntimeFault(diagnosticMessages.runtimeDataMismatch, (error as Error).message);
  }
}

export async function openSession(ir: IrProgram, options: SessionOptions = {}): Promise<TrainingSession> {
  refuseLowPrecision(ir);
  const backend = options.backend ?? 'cpu';
  const baseDirectory = baseDirectoryOf(options);
  assertExternsInside(ir, baseDirectory, options.externFolders ?? ['.']);
  const dataset = makeDataset(ir, options);
  if ((options.mode ?? 'in-process') === 'workers') {
    // The main thread only routes and evaluates the scores; it computes on cpu.
    await useBackend('cpu');
    return WorkerSession.create(ir, { backend, baseDirectory, timeoutMs: options.timeoutMs, dataset: options.dataset });
  }
  await useBackend(backend);
  return new InProcessSession(ir, { baseDirectory, externs: await loadExterns(ir, baseDirectory), dataset });
}

/**
 * TensorFlow.js trains in fp32 here. Training a program that declares bf16
 * or fp16 in fp32 would silently measure memory (and speed) that its
 * predictions do not describe, so the runtime refuses it; check, simulate
 * and tune count in the declared precision.
 */
function refuseLowPrecision(ir: IrProgram): void {
  if (ir.precision === undefined) return;
  throw new RuntimeFault(diagnosticMessages.precisionNotTrainable,
    `the program declares precision ${ir.precision}, but the runtime trains in fp32 only; pipec check, simulate and tune count its memory in ${ir.precision} mixed precision. To train it here, write precision fp32 (or leave the setting out)`);
}

/** Trains for `steps` optimizer steps (continuing from a checkpoint when asked). */
export async function run(ir: IrProgram, options: RunOptions = {}): Promise<RunResult> {
  assertValidIr(ir);
  // Read (and validate) the checkpoint before anything starts: a refused one leaves every file as it was.
  const resumed = options.resumeDirectory ? readCheckpoint(options.resumeDirectory, ir) : undefined;
  if (options.checkpointDirectory) removeStaleTemporaries(options.checkpointDirectory);
  const session = await openSession(ir, options);
  try {
    let startStep = 0;
    const lossHistory: number[] = [];
    if (resumed) {
      await session.loadState(resumed.stages);
      startStep = resumed.step;
      lossHistory.push(...resumed.losses);
    }
    const totalSteps = options.steps ?? 100;
    const records: StepRecord[] = [];
    const evaluations: { step: number; evaluation: Evaluation }[] = [];
    let peakSlots = ir.devices.map(() => 0);
    let peakActivationBytes = ir.devices.map(() => 0);
    let events: TraceEvent[] = [];
    let bubble: number | undefined;
    const started = performance.now();
    let checkpointPath: string | undefined;
    const saveCheckpoint = async (nextStep: number): Promise<void> => {
      if (!options.checkpointDirectory) return;
      checkpointPath = writeCheckpoint(options.checkpointDirectory, { step: nextStep, fingerprint: programFingerprint(ir), losses: lossHistory, stages: await session.state() });
    };
    for (let step = startStep; step < totalSteps; step++) {
      const traceOrigin = options.trace ? now() : undefined;
      const summary: StepSummary = await session.step({ step, applyOptimizer: true, training: true, checkFinite: options.checkFinite ?? true, traceOrigin, opTimeoutMs: options.opTimeoutMs });
      const examples = ir.batch > 0 ? ir.batch : ir.microbatchSize * ir.microbatches * ir.replicas;
      // Even with checkFinite off, a step whose loss is not a number ends the run rather than training on.
      if (!Number.isFinite(summary.loss)) throw new RuntimeFault(diagnosticMessages.nonFinite, `step ${step + 1}: the loss is ${summary.loss}; training stopped`);
      const record: StepRecord = { step, loss: summary.loss, accuracy: summary.accuracy, seconds: summary.seconds, examplesPerSecond: examples / summary.seconds };
      records.push(record);
      lossHistory.push(summary.loss);
      peakSlots = peakSlots.map((peak, i) => Math.max(peak, summary.reports.find((r) => r.device === ir.devices[i].index)?.peakSlots ?? 0));
      peakActivationBytes = peakActivationBytes.map((peak, i) => Math.max(peak, summary.reports.find((r) => r.device === ir.devices[i].index)?.peakActivationBytes ?? 0));
      if (options.trace) {
        const stepEvents = summary.reports.flatMap((r) => r.events);
        bubble = measuredBubble(stepEvents, ir.devices.length);
        // Keep a bounded trace: steps laid end to end would need a shared clock; each step is its own origin.
        if (events.length < 200_000) events = events.concat(stepEvents.map((e) => ({ ...e, ts: e.ts + (traceOrigin! - started - performance.timeOrigin) * 1000, args: { ...e.args, step } })));
      }
      options.onStep?.(record);
      const nextStep = step + 1;
      if (options.evalEvery && nextStep % options.evalEvery === 0 && nextStep < totalSteps && session.dataset.testSize > 0) {
        const evaluation = await session.evaluate(options.evalExamples);
        evaluations.push({ step: nextStep, evaluation });
        options.onEvaluation?.(nextStep, evaluation);
      }
      if (options.checkpointEvery && nextStep % options.checkpointEvery === 0 && nextStep < totalSteps) await saveCheckpoint(nextStep);
    }
    const seconds = (performance.now() - started) / 1000;
    const final = session.dataset.testSize > 0 ? await session.evaluate(options.evalExamples) : undefined;
    if (final) options.onEvaluation?.(totalSteps, final);
    await saveCheckpoint(Math.max(totalSteps, startStep));
    const trainedExamples = records.length * ir.microbatchSize * ir.microbatches * ir.replicas;
    const computeSeconds = records.reduce((sum, r) => sum + r.seconds, 0);
    return {
      startStep, steps: records, lossHistory, evaluations, final,
      peakSlots, predictedSlots: ir.devices.map((d) => d.slots),
      peakActivationBytes, predictedActivationBytes: ir.devices.map((d) => d.memory.activations),
      examplesPerSecond: computeSeconds > 0 ? trainedExamples / computeSeconds : 0,
      seconds,
      trace: options.trace ? traceDocument(ir, events) : undefined,
      measuredBubble: bubble,
      checkpoint: checkpointPath,
    };
  } finally {
    await session.close();
  }
}

export interface VerifyOptions extends SessionOptions {
  readonly tolerance?: number;
}

export interface VerifyResult {
  readonly maxRelativeError: number;
  readonly worstParameter: string;
  readonly perParameter: Readonly<Record<string, number>>;
  readonly tolerance: number;
  readonly ok: boolean;
  readonly pipelineLoss: number;
  readonly referenceLoss: number;
  readonly peakSlots: readonly number[];
  readonly predictedSlots: readonly number[];
  /** Per device, the most bytes its activation stash held during the step, and the compiler's prediction. */
  readonly peakActivationBytes: readonly number[];
  readonly predictedActivationBytes: readonly number[];
  /** The pipeline's gradients of step 0, in parameter order (what `pipec verify --dump-grads` writes). */
  readonly gradients: readonly ExportedTensor[];
}

/** One step through the pipeline and through plain single-device training; compares the gradients. */
export async function verify(ir: IrProgram, options: VerifyOptions = {}): Promise<VerifyResult> {
  assertValidIr(ir);
  const tolerance = options.tolerance ?? 1e-5;
  const session = await openSession(ir, options);
  let summary: StepSummary;
  let pipeline: Record<string, Float32Array>;
  let state;
  try {
    summary = await session.step({ step: 0, applyOptimizer: false, training: true, checkFinite: true });
    pipeline = await session.gradients();
    state = await session.state();
  } finally {
    await session.close();
  }
  await useBackend(options.backend ?? 'cpu');
  const reference = new ReferenceTrainer(ir, session.dataset, await loadExterns(ir, baseDirectoryOf(options)));
  try {
    reference.loadStages(state);
    const referenceLoss = await reference.computeGradients(0);
    const expected = await reference.model.parameters.snapshotGradients();
    const comparison = compareGradients(pipeline, expected);
    return {
      maxRelativeError: comparison.maxRelativeError,
      worstParameter: comparison.worst,
      perParameter: comparison.perParameter,
      tolerance,
      ok: comparison.maxRelativeError <= tolerance,
      pipelineLoss: summary.loss,
      referenceLoss,
      peakSlots: ir.devices.map((d) => summary.reports.find((r) => r.device === d.index)?.peakSlots ?? 0),
      predictedSlots: ir.devices.map((d) => d.slots),
      peakActivationBytes: ir.devices.map((d) => summary.reports.find((r) => r.device === d.index)?.peakActivationBytes ?? 0),
      predictedActivationBytes: ir.devices.map((d) => d.memory.activations),
      gradients: reference.model.parameters.specs.map((spec) => ({ name: spec.name, shape: spec.shape, data: pipeline[spec.name] })),
    };
  } finally {
    reference.dispose();
  }
}

/**
 * The tensors `pipec export --torch` writes beside the generated program:
 * initial weights as this runtime initialises them, and the training examples.
 */
export async function torchExport(ir: IrProgram, options: { readonly baseDirectory?: string } = {}): Promise<TorchExportTensors> {
  const baseDirectory = baseDirectoryOf(options);
  const externs = await loadExterns(ir, baseDirectory);
  try {
    return torchExportTensors(ir, externs, baseDirectory);
  } catch (error) {
    if (error instanceof RuntimeFault) throw error;
    throw new RuntimeFault(diagnosticMessages.runtimeDataMismatch, (error as Error).message);
  }
}

export interface ProfileOptions {
  readonly backend?: BackendName;
  readonly baseDirectory?: string;
  /** Isolated: measurements per stage; in situ: traced steps after the warm-up step (default 5 and 3). */
  readonly repeats?: number;
  readonly dataset?: Dataset;
  /** Time each stage alone on one engine instead of running the pipeline (any schedule, no run needed). */
  readonly isolated?: boolean;
  /** In situ: how the pipeline runs (default: workers on cpu / wasm, in-process on webgpu, as `pipec train`). */
  readonly mode?: ExecutionMode;
  /** In situ, worker mode: a device silent this long counts as hung (ms). */
  readonly timeoutMs?: number;
  /** Folders extern layer modules may be imported from (see SessionOptions). */
  readonly externFolders?: readonly string[];
}

export interface ProfileResult {
  readonly costs: CostModel;
  readonly backend: BackendName;
  readonly microbatchSize: number;
  readonly repeats: number;
  /** 'isolated', or the execution mode the in-situ run used. */
  readonly mode: 'isolated' | ExecutionMode;
}

/** The mode `pipec train` uses on a backend: a worker per device, except on webgpu (one GPU, one engine). */
export function defaultMode(backend: BackendName): ExecutionMode {
  return backend === 'webgpu' ? 'in-process' : 'workers';
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function settle(tensor: Tensor | null): Promise<void> {
  // Backends like webgpu run asynchronously: wait for the result before stopping the clock.
  if (tensor) await tensor.data();
}

/** Moving `bytes` between two threads as a transferred buffer: half a round trip, seconds. */
async function measureTransfer(bytes: number, repeats: number): Promise<number> {
  const channel = new MessageChannel();
  const times: number[] = [];
  try {
    for (let i = 0; i < repeats + 1; i++) {
      const buffer = new ArrayBuffer(Math.max(4, bytes));
      const started = performance.now();
      await new Promise<void>((resolve) => {
        channel.port2.once('message', (received: ArrayBuffer) => {
          channel.port2.postMessage(received, [received]);
        });
        channel.port1.once('message', () => resolve());
        channel.port1.postMessage(buffer, [buffer]);
      });
      if (i > 0) times.push((performance.now() - started) / 2000);
    }
  } finally {
    channel.port1.close();
    channel.port2.close();
  }
  return median(times);
}

/**
 * The cost model the simulator and the automatic scheduler read. By default
 * in situ: the pipeline runs `repeats` traced steps after a warm-up step in
 * the mode it trains in, and F, B (I, W), transfers, optimizer steps and
 * allreduces are read off the trace (runtime/profileInSitu.ts). Isolated
 * (`isolated: true`): F, I and W of every stage on one microbatch on this
 * thread (median of `repeats`), and a bare thread-to-thread round trip per
 * stage boundary.
 */
export async function profile(ir: IrProgram, options: ProfileOptions = {}): Promise<ProfileResult> {
  assertValidIr(ir);
  if (!options.isolated) return profileInSitu(ir, options);
  // Isolated profiling runs the stages as one chain on one thread; the shards of a vocab_parallel layer are side by side.
  if (ir.stages.some((stage) => stage.vocabShard !== undefined)) {
    throw new RuntimeFault(diagnosticMessages.profileIsolatedVocab, 'the stages are timed one after the other, but the vocabulary shards each take the last stage\'s output and their gradients are summed');
  }
  return profileIsolated(ir, options);
}

async function profileInSitu(ir: IrProgram, options: ProfileOptions): Promise<ProfileResult> {
  const backend = options.backend ?? 'cpu';
  const repeats = options.repeats ?? 3;
  const mode = options.mode ?? defaultMode(backend);
  const session = await openSession(ir, { backend, mode, baseDirectory: options.baseDirectory, dataset: options.dataset, timeoutMs: options.timeoutMs, externFolders: options.externFolders });
  try {
    const traces = await traceSteps(session, repeats);
    return { costs: costsFromTraces(ir, traces), backend, microbatchSize: ir.microbatchSize, repeats, mode };
  } finally {
    await session.close();
  }
}

async function profileIsolated(ir: IrProgram, options: ProfileOptions): Promise<ProfileResult> {
  const backend = options.backend ?? 'cpu';
  const repeats = options.repeats ?? 5;
  await useBackend(backend);
  const baseDirectory = options.baseDirectory ?? process.cwd();
  assertExternsInside(ir, baseDirectory, options.externFolders ?? ['.']);
  const externs = await loadExterns(ir, baseDirectory);
  const dataset = options.dataset ?? makeDataset(ir, { baseDirectory });
  const feed = new BatchFeed(dataset, ir.seed, ir.microbatchSize, ir.microbatches, ir.replicas);
  const stages = ir.stages.map((stage) => buildStage(ir, stage.index, externs));
  const samples = ir.stages.map(() => ({ forward: [] as number[], backwardInput: [] as number[], backwardWeight: [] as number[] }));
  const outputBytes: number[] = ir.stages.map(() => 0);
  const lossName = parseLoss(ir.model.loss);
  try {
    for (let repeat = 0; repeat < repeats + 1; repeat++) {
      const batch = feed.microbatch(repeat, 0, 0);
      const model = ir.model;
      const context = { training: true, step: repeat, seed: ir.seed, exampleOffset: 0 };
      let activation: Tensor = tf.tensor(batch.input, [ir.microbatchSize, ...model.input.shape], model.input.dtype === 'i32' ? 'int32' : 'float32');
      const saved: unknown[] = [];
      const inputs: Tensor[] = [];
      for (const stage of stages) {
        const started = performance.now();
        const result = stage.layer.forward(stage.parameters, activation, context);
        await settle(result.output);
        if (repeat > 0) samples[stage.index].forward.push((performance.now() - started) / 1000);
        outputBytes[stage.index] = result.output.size * 4;
        saved.push(result.saved);
        inputs.push(activation);
        activation = result.output;
      }
      const target = tf.tensor(batch.target, [ir.microbatchSize, ...model.target.shape], model.target.dtype === 'i32' ? 'int32' : 'float32');
      const loss = computeLoss(lossName, activation, target, 1 / ir.microbatches);
      let gradient: Tensor | null = loss.gradient;
      for (let s = stages.length - 1; s >= 0; s--) {
        const stage = stages[s];
        let started = performance.now();
        const result = stage.layer.backwardInput(stage.parameters, saved[s], gradient!, context, s !== 0);
        await settle(result.inputGradient);
        if (repeat > 0) samples[s].backwardInput.push((performance.now() - started) / 1000);
        started = performance.now();
        stage.layer.backwardWeight(stage.parameters, result.pending, context);
        const firstGradient = stage.parameters.names().map((name) => stage.parameters.gradient(name)).find((g) => g !== undefined) ?? null;
        await settle(firstGradient);
        if (repeat > 0) samples[s].backwardWeight.push((performance.now() - started) / 1000);
        disposeState([saved[s], result.pending]);
        gradient?.dispose();
        gradient = result.inputGradient;
        stage.parameters.clearGradients();
      }
      disposeState([gradient, inputs, activation, target, loss]);
    }
    const times: StageTimes[] = samples.map((sample, s) => {
      const forward = median(sample.forward);
      const backwardInput = median(sample.backwardInput);
      const backwardWeight = median(sample.backwardWeight);
      return { forward, backwardInput, backwardWeight, backward: backwardInput + backwardWeight, activation: ir.stages[s].activationBytes };
    });
    const sendActivation: number[] = [];
    const sendGradient: number[] = [];
    for (let s = 0; s < ir.stages.length; s++) {
      const crosses = (a: number, b: number): boolean => b >= 0 && b < ir.stages.length && ir.stages[a].rank !== ir.stages[b].rank;
      sendActivation.push(crosses(s, s + 1) ? await measureTransfer(outputBytes[s], repeats) : 0);
      sendGradient.push(crosses(s, s - 1) ? await measureTransfer(outputBytes[s - 1], repeats) : 0);
    }
    return { costs: { kind: 'measured', stages: times, sendActivation, sendGradient }, backend, microbatchSize: ir.microbatchSize, repeats, mode: 'isolated' };
  } finally {
    for (const stage of stages) stage.parameters.dispose();
  }
}
