// Where a CostModel comes from:
//  - deriveCostModel: from the checked program's FLOPs and bytes, the
//    devices' speed and the links' bandwidth and latency;
//  - readCostsFile: from a measured costs file (`pipec profile` writes it;
//    docs/costs.md defines the format and costsFileSchema is its JSON Schema);
//  - unitCostModel (types.ts): F = I = W = 1, for comparing with papers.

import { Ajv, type ValidateFunction } from 'ajv';
import { findNodeAtLocation, parseTree, type Node as JsonNode, type ParseError, printParseErrorCode } from 'jsonc-parser';
import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import { spanOf, type Span } from '../../grammar/source.ts';
import type { CheckedCluster, CheckedProgram, CheckedStage } from '../program.ts';
import type { PipelineShape } from '../schedule/types.ts';
import type { CostModel, StageTimes } from './types.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_JSON_DEPTH, MAX_MEASURED_QUANTITY } from '../limits.ts';

/** Time to move `bytes` from device `from` to device `to` (0 on one device). */
export function transferTime(cluster: CheckedCluster, from: number, to: number, bytes: number): number {
  if (from === to) return 0;
  const links = linkIndex(cluster);
  const link =
    links.byPair.get(pairKey(from, to)) ??
    // An undeclared direction borrows the reverse link, else the slowest link
    // declared: the cost model must not make a missing link look free.
    links.byPair.get(pairKey(to, from)) ??
    links.slowest;
  if (link === undefined) return 0;
  return bytes / link.bandwidthBytesPerSecond + link.latencySeconds;
}

type Link = CheckedCluster['links'][number];

// A cluster of N devices may have N² links; every stage boundary looks one up.
const linkIndexes = new WeakMap<CheckedCluster, { byPair: Map<number, Link>; slowest?: Link }>();

function pairKey(from: number, to: number): number {
  return from * 65_536 + to;
}

function linkIndex(cluster: CheckedCluster): { byPair: Map<number, Link>; slowest?: Link } {
  let index = linkIndexes.get(cluster);
  if (index === undefined) {
    const byPair = new Map<number, Link>();
    let slowest: Link | undefined;
    for (const link of cluster.links) {
      // The first declaration of a pair wins, as a linear find would pick it.
      if (!byPair.has(pairKey(link.from, link.to))) byPair.set(pairKey(link.from, link.to), link);
      if (slowest === undefined || link.bandwidthBytesPerSecond < slowest.bandwidthBytesPerSecond) slowest = link;
    }
    index = { byPair, slowest };
    linkIndexes.set(cluster, index);
  }
  return index;
}

/**
 * Per stage: F, I, W from FLOPs over the device's speed (B = I + W);
 * activation bytes per microbatch (only the stage input when the stage
 * recomputes); communication = bytes / bandwidth + latency of the link
 * between the two stages' devices (replica 0's devices), 0 on one device.
 */
export function deriveCostModel(program: CheckedProgram): CostModel {
  const { pipeline, cluster } = program;
  const stages = pipeline.stages;
  const speedOf = (rank: number): number => {
    const device = cluster.devices[rank];
    return device !== undefined && device.flopsPerSecond > 0 ? device.flopsPerSecond : 1;
  };
  const times: StageTimes[] = stages.map((stage) => {
    const speed = speedOf(stage.device);
    const backwardInput = stage.costs.backwardInputFlops / speed;
    const backwardWeight = stage.costs.backwardWeightFlops / speed;
    return {
      forward: stage.costs.forwardFlops / speed,
      backward: backwardInput + backwardWeight,
      backwardInput,
      backwardWeight,
      activation: stage.recompute ? stage.costs.inputBytes : stage.costs.activationBytes,
      weightGradientActivation: stage.costs.weightGradientBytes,
    };
  });
  // With vocabulary shards (after the model's stages) the last model stage
  // sends its output to every shard, each shard its statistics to the others
  // and its input gradient back to the last model stage: each charged on the
  // slowest of its links.
  const shards = stages.filter((stage) => stage.vocabShard !== undefined);
  const lastModel = stages.length - shards.length - 1;
  const slowest = (from: number, to: readonly CheckedStage[], bytes: number) => to.reduce((most, other) => Math.max(most, transferTime(cluster, from, other.device, bytes)), 0);
  const sendActivation = stages.map((stage, s) => {
    if (stage.vocabShard !== undefined) return slowest(stage.device, shards.filter((other) => other !== stage), stage.costs.outputBytes);
    if (shards.length > 0 && s === lastModel) return slowest(stage.device, shards, stage.costs.outputBytes);
    return s + 1 < stages.length ? transferTime(cluster, stage.device, stages[s + 1].device, stage.costs.outputBytes) : 0;
  });
  const sendGradient = stages.map((stage, s) => {
    if (stage.vocabShard !== undefined) return transferTime(cluster, stage.device, stages[lastModel].device, stage.costs.inputBytes);
    return s > 0 ? transferTime(cluster, stage.device, stages[s - 1].device, stage.costs.inputBytes) : 0;
  });
  const sendSkip = pipeline.skipEdges.map((edge) => transferTime(cluster, stages[edge.sourceStage].device, stages[edge.mergeStage].device, edge.bytes));
  const hostBandwidth = hostLinkBandwidth(cluster, stages.map((stage) => stage.device));
  const replicas = pipeline.replicas;
  const ranks = pipeline.devicesPerReplica;
  // Ring allreduce of a stage's gradients over its replicas: 2(r-1)/r of the
  // bytes cross the slowest hop, with 2(r-1) latencies.
  const allreduce = replicas > 1
    ? stages.map((stage) => {
      const bytes = stage.costs.weightBytes;
      let slowest = 0;
      for (let r = 0; r < replicas; r++) {
        const from = r * ranks + stage.device;
        const to = ((r + 1) % replicas) * ranks + stage.device;
        slowest = Math.max(slowest, transferTime(cluster, from, to, (2 * (replicas - 1) / replicas) * bytes) + (2 * replicas - 3) * linkLatency(cluster, from, to));
      }
      return slowest;
    })
    : undefined;
  return {
    kind: 'derived',
    stages: times,
    sendActivation,
    sendGradient,
    ...(sendSkip.length > 0 ? { sendSkip } : {}),
    ...(hostBandwidth === undefined ? {} : { hostBandwidth }),
    ...(allreduce === undefined ? {} : { allreduce }),
  };
}

function linkLatency(cluster: CheckedCluster, from: number, to: number): number {
  return linkIndex(cluster).byPair.get(pairKey(from, to))?.latencySeconds ?? 0;
}

/** The slowest link between a pipeline device and a device named host / cpu (activation offload goes there). */
function hostLinkBandwidth(cluster: CheckedCluster, pipelineDevices: readonly number[]): number | undefined {
  const hosts = new Set(cluster.devices.filter((device) => /^(host|cpu)\b/i.test(device.name)).map((device) => device.index));
  let slowest: number | undefined;
  for (const link of cluster.links) {
    const toHost = hosts.has(link.to) && pipelineDevices.includes(link.from);
    const fromHost = hosts.has(link.from) && pipelineDevices.includes(link.to);
    if (toHost || fromHost) slowest = Math.min(slowest ?? Number.POSITIVE_INFINITY, link.bandwidthBytesPerSecond);
  }
  return slowest;
}

/** The costs file format (docs/costs.md). `pipec profile` writes it; `--costs FILE` reads it. */
export const COSTS_FILE_VERSION = 1 as const;

export interface CostsFile {
  /** Format version; 1 when absent. */
  readonly version?: typeof COSTS_FILE_VERSION;
  /** `pipec profile` writes the CostModel's own fields too: kind 'measured' and units 'seconds'. */
  readonly kind?: 'measured';
  readonly units?: 'seconds';
  /** Where and how it was measured (informational). */
  readonly measured?: {
    readonly pipeline?: string;
    readonly backend?: string;
    readonly microbatchSize?: number;
    readonly repeats?: number;
    readonly date?: string;
    /** 'isolated' (each stage alone), or the execution mode of the in-situ run ('workers', 'in-process'). */
    readonly mode?: 'isolated' | 'workers' | 'in-process';
  };
  readonly pipeline?: string;
  readonly backend?: string;
  readonly microbatchSize?: number;
  readonly repetitions?: number;
  /** Seconds per microbatch, per stage. */
  readonly stages: readonly {
    /** Stage index; the entry's position when absent. */
    readonly stage?: number;
    readonly forward: number;
    readonly backwardInput: number;
    readonly backwardWeight: number;
    /** Fused backward when measured on its own; defaults to backwardInput + backwardWeight. */
    readonly backward?: number;
    /** Bytes kept live from F until B/W; defaults to the compiler's prediction (or 1 without a program). */
    readonly activationBytes?: number;
    /** The same as activationBytes, under the CostModel's own name. */
    readonly activation?: number;
  }[];
  /** Seconds to send stage s's output to s+1; defaults to the derived link time (0 without a program). */
  readonly sendActivation?: readonly number[];
  /** Seconds to send stage s's input gradient to s-1 (index s, 0 for s = 0); defaults likewise. */
  readonly sendGradient?: readonly number[];
  /** Device seconds the sender spends on each send (measured in situ); absent: 0. */
  readonly sendActivationOverhead?: readonly number[];
  readonly sendGradientOverhead?: readonly number[];
  /** Seconds of stage s's optimizer step / gradient allreduce; absent: 0. */
  readonly optimizerStep?: readonly number[];
  readonly allreduce?: readonly number[];
  /** Bytes per second to host memory (offload / reload); absent: free. */
  readonly hostBandwidth?: number;
}

// Bounded so that sums over a whole schedule stay finite (seconds, bytes, bytes/s; compiler/limits.ts).
const nonNegative = { type: 'number', minimum: 0, maximum: MAX_MEASURED_QUANTITY } as const;

/** Optional per-stage lists a costs file may carry (what `pipec profile` measures in situ). */
const OPTIONAL_PER_STAGE = ['sendActivationOverhead', 'sendGradientOverhead', 'optimizerStep', 'allreduce'] as const;

export const costsFileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://pipec.dev/schemas/costs-v1.json',
  title: 'pipec measured costs',
  type: 'object',
  required: ['stages'],
  additionalProperties: false,
  properties: {
    version: { const: COSTS_FILE_VERSION },
    kind: { const: 'measured' },
    units: { const: 'seconds' },
    measured: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pipeline: { type: 'string' },
        backend: { type: 'string' },
        microbatchSize: { type: 'integer', minimum: 1 },
        repeats: { type: 'integer', minimum: 1 },
        date: { type: 'string' },
        mode: { enum: ['isolated', 'workers', 'in-process'] },
      },
    },
    pipeline: { type: 'string' },
    backend: { type: 'string' },
    microbatchSize: { type: 'integer', minimum: 1 },
    repetitions: { type: 'integer', minimum: 1 },
    stages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['forward', 'backwardInput', 'backwardWeight'],
        additionalProperties: false,
        properties: {
          stage: { type: 'integer', minimum: 0 },
          forward: nonNegative,
          backwardInput: nonNegative,
          backwardWeight: nonNegative,
          backward: nonNegative,
          activationBytes: nonNegative,
          activation: nonNegative,
        },
      },
    },
    sendActivation: { type: 'array', items: nonNegative },
    sendGradient: { type: 'array', items: nonNegative },
    sendActivationOverhead: { type: 'array', items: nonNegative },
    sendGradientOverhead: { type: 'array', items: nonNegative },
    optimizerStep: { type: 'array', items: nonNegative },
    allreduce: { type: 'array', items: nonNegative },
    hostBandwidth: { type: 'number', exclusiveMinimum: 0, maximum: MAX_MEASURED_QUANTITY },
  },
} as const;

/**
 * How deep `[` and `{` nest outside strings, and the offset of the first
 * bracket past MAX_JSON_DEPTH; one pass, no recursion.
 */
function jsonNestingDepth(text: string): { deepest: number; at: number } {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const character = text[i];
    if (inString) {
      if (character === '\\') i++;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (character === '[' || character === '{') {
      if (++depth > MAX_JSON_DEPTH) return { deepest: depth, at: i };
    } else if (character === ']' || character === '}') depth = Math.max(0, depth - 1);
  }
  return { deepest: depth, at: 0 };
}

let compiledSchema: ValidateFunction | undefined;
function costsValidator(): ValidateFunction {
  compiledSchema ??= new Ajv({ allErrors: true, strict: true }).compile(costsFileSchema);
  return compiledSchema;
}

export interface ReadCostsResult {
  readonly costs?: CostModel;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Reads a costs file against a program (its stage count, and its derived
 * activation bytes and link times as defaults) or a bare pipeline shape
 * (activation 1 per stage, free communication as defaults). Diagnostics
 * point into the costs file.
 */
export function readCostsFile(text: string, fileName: string, target: CheckedProgram | PipelineShape): ReadCostsResult {
  const depth = jsonNestingDepth(text);
  if (depth.deepest > MAX_JSON_DEPTH) {
    // jsonc-parser and JSON.parse recurse once per level.
    return { diagnostics: [makeDiagnostic(diagnosticMessages.costsTooDeep, spanOf(fileName, depth.at, depth.at + 1), { depth: depth.deepest, limit: MAX_JSON_DEPTH })] };
  }
  const parseErrors: ParseError[] = [];
  const tree = parseTree(text, parseErrors, { allowTrailingComma: false, disallowComments: true });
  if (parseErrors.length > 0 || tree === undefined) {
    const first = parseErrors[0];
    const span = spanOf(fileName, first?.offset ?? 0, (first?.offset ?? 0) + (first?.length ?? 0));
    return { diagnostics: [makeDiagnostic(diagnosticMessages.costsNotJson, span, { detail: first ? printParseErrorCode(first.error) : 'empty file' })] };
  }
  const value: unknown = JSON.parse(text);
  const validate = costsValidator();
  if (!validate(value)) {
    const diagnostics = (validate.errors ?? []).map((error) => {
      const path = error.instancePath.split('/').slice(1).map((part) => (/^\d+$/.test(part) ? Number(part) : part.replace(/~1/g, '/').replace(/~0/g, '~')));
      const node = findNodeAtLocation(tree, path) ?? tree;
      const where = error.instancePath === '' ? 'the top level' : error.instancePath;
      const detail = error.keyword === 'additionalProperties'
        ? `has an unknown property '${String((error.params as { additionalProperty?: string }).additionalProperty)}'`
        : error.message ?? 'is invalid';
      return makeDiagnostic(diagnosticMessages.costsSchema, spanOfNode(fileName, node), { path: where, detail });
    });
    return { diagnostics };
  }
  const file = value as CostsFile;
  const program = 'pipeline' in target && 'cluster' in target ? target : undefined;
  const stageCount = program ? program.pipeline.stages.length : (target as PipelineShape).stages;
  const stagesNode = findNodeAtLocation(tree, ['stages']) ?? tree;
  const diagnostics: Diagnostic[] = [];
  if (file.stages.length !== stageCount) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.costsStageCount, spanOfNode(fileName, stagesNode), { given: file.stages.length, expected: stageCount }));
    return { diagnostics };
  }
  const stageOf = (entry: CostsFile['stages'][number], index: number) => entry.stage ?? index;
  const byStage = new Map<number, number[]>();
  file.stages.forEach((entry, index) => byStage.set(stageOf(entry, index), [...(byStage.get(stageOf(entry, index)) ?? []), index]));
  for (let s = 0; s < stageCount; s++) {
    const entries = byStage.get(s) ?? [];
    if (entries.length !== 1) {
      const node = entries.length > 1 ? findNodeAtLocation(tree, ['stages', entries[1], 'stage']) ?? stagesNode : stagesNode;
      diagnostics.push(makeDiagnostic(diagnosticMessages.costsStageIndex, spanOfNode(fileName, node), { stage: s, count: entries.length, last: stageCount - 1 }));
    }
  }
  file.stages.forEach((entry, index) => {
    if (entry.backward === undefined) return;
    const sum = entry.backwardInput + entry.backwardWeight;
    // Measured separately, the fused backward may differ a little from the sum; a factor of two means a unit mistake.
    if (entry.backward > 2 * sum || entry.backward < sum / 2) {
      const node = findNodeAtLocation(tree, ['stages', index, 'backward']) ?? stagesNode;
      diagnostics.push(makeDiagnostic(diagnosticMessages.costsBackwardMismatch, spanOfNode(fileName, node), { stage: stageOf(entry, index), backward: entry.backward, sum }));
    }
  });
  for (const key of ['sendActivation', 'sendGradient', ...OPTIONAL_PER_STAGE] as const) {
    const list = file[key];
    if (list !== undefined && list.length !== stageCount) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.costsStageCount, spanOfNode(fileName, findNodeAtLocation(tree, [key]) ?? tree), { given: list.length, expected: stageCount }));
    }
  }
  if (diagnostics.length > 0) return { diagnostics };

  const derived = program ? deriveCostModel(program) : undefined;
  const ordered = file.stages.map((entry, index) => ({ entry, stage: stageOf(entry, index) })).sort((a, b) => a.stage - b.stage);
  const stages: StageTimes[] = ordered.map(({ entry }, s) => ({
    forward: entry.forward,
    backwardInput: entry.backwardInput,
    backwardWeight: entry.backwardWeight,
    backward: entry.backward ?? entry.backwardInput + entry.backwardWeight,
    activation: entry.activationBytes ?? entry.activation ?? derived?.stages[s].activation ?? 1,
    // What W needs comes from the program's model unless the file sets the stage's activation itself.
    ...(entry.activationBytes === undefined && entry.activation === undefined && derived?.stages[s].weightGradientActivation !== undefined
      ? { weightGradientActivation: derived.stages[s].weightGradientActivation }
      : {}),
  }));
  const zeros = Array.from({ length: stageCount }, () => 0);
  return {
    costs: {
      kind: 'measured',
      stages,
      sendActivation: file.sendActivation ?? derived?.sendActivation ?? zeros,
      sendGradient: file.sendGradient ?? derived?.sendGradient ?? zeros,
      // A costs file does not measure skip edges yet; their link times come from the program.
      ...(derived?.sendSkip !== undefined ? { sendSkip: derived.sendSkip } : {}),
      ...Object.fromEntries(OPTIONAL_PER_STAGE.filter((key) => file[key] !== undefined).map((key) => [key, file[key]])),
      ...(file.hostBandwidth !== undefined ? { hostBandwidth: file.hostBandwidth } : {}),
    },
    diagnostics: [],
  };
}

function spanOfNode(fileName: string, node: JsonNode): Span {
  return spanOf(fileName, node.offset, node.offset + node.length);
}
