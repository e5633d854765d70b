// Stages: every layer in exactly one stage, stages contiguous and in model
// order, unique names, devices that exist and can compute, and placements.
// Explicit stages name their device (`s0 on gpu[0] = ...`); under
// `placement KIND` the compiler assigns ranks (compiler/placement.ts);
// `stages auto(N)` asks the partitioner (compiler/partition) for balanced
// boundaries.
//
// Ranks: pipeline rank d of replica r runs on cluster device r*P + d
// (compiler/program.ts). So explicitly placed stages must use the cluster's
// devices 0..P-1 without gaps (rank = device index), and placements use the
// first P compute devices, where P = compute devices / replicas, capped so
// every rank gets its share of the stages.

import type { AutoStages, Identifier, LayerReference, PipelineDeclaration, StageAttribute, StagesBlock } from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import { partitionLayers } from '../partition/partition.ts';
import {
  DEFAULT_PLACEMENT_KIND, isMirroredKind, isPlacementProblem, mirroredPlacementProblem, singleCopyKind, parsePlacementKind, placementFromDeclaration, placementNameSuggestion, stageMultiple,
  type Placement, type RegularPlacementKind,
} from '../placement.ts';
import type { CheckedModel, Precision } from '../program.ts';
import type { ClusterCheckResult } from './cluster.ts';
import { resolveDevices } from './cluster.ts';
import { exactlyOneMember, type Reporter } from './context.ts';
import { EMPTY_SCOPE, evaluateNumber, evaluateRange } from './evaluate.ts';
import { trainableParameters, type ModelLayerTable } from './model.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_AUTO_STAGES } from '../limits.ts';
import { activationScale, bytesPerParameter } from './settings.ts';
import { bytesPerExample } from '../layers/catalog.ts';

export interface PlannedStage {
  readonly name: string;
  readonly rank: number;
  readonly layers: readonly number[];
  readonly recompute: boolean;
  readonly offload: boolean;
  /** Named by a `frozen` attribute: every layer of the stage is frozen. */
  readonly frozen: boolean;
  readonly span: Span;
}

export interface StagePlan {
  readonly stages: readonly PlannedStage[];
  readonly placement: Placement;
  /** Pipeline ranks P. */
  readonly ranks: number;
}

export interface StageInputs {
  readonly pipeline: PipelineDeclaration;
  readonly modelName: string;
  readonly table: ModelLayerTable;
  /** Needed only by `stages auto` (costs); undefined when the model had errors. */
  readonly model?: CheckedModel;
  readonly cluster: ClusterCheckResult;
  readonly replicas: number;
  readonly microbatchSize?: number;
  readonly optimizerStateFactor: number;
  /** Number formats (the `precision` setting): bytes per parameter and of activations. */
  readonly precision: Precision;
  /** Whether `stages auto(N)` must fit the devices' memory (CheckOptions.autoStagesMemory). */
  readonly autoStagesMemory?: AutoStagesMemory;
  readonly reporter: Reporter;
}

/** 'fit': the split stays within capacity (PIPE3015 when none does); 'check-later': the memory check reports the overflow. */
export type AutoStagesMemory = 'fit' | 'check-later';

const BALANCES = ['compute', 'memory'] as const;

export function planStages(inputs: StageInputs): StagePlan | undefined {
  const { pipeline, reporter } = inputs;
  const block = exactlyOneMember(
    pipeline,
    (m): m is StagesBlock | AutoStages => m.kind === 'StagesBlock' || m.kind === 'AutoStages',
    'stages',
    'add stages { s0 on gpu[0] = ... } or stages auto(4)',
    reporter,
  );
  if (block === undefined) return undefined;
  const errorsBefore = countErrors(reporter);
  const planned = block.kind === 'StagesBlock' ? planExplicit(block, inputs) : planAuto(block, inputs);
  if (planned === undefined) return undefined;
  const attributes = applyAttributes(pipeline, planned.stages, reporter);
  if (countErrors(reporter) > errorsBefore) return undefined;
  return { ...planned, stages: attributes };
}

function countErrors(reporter: Reporter): number {
  return reporter.diagnostics.filter((d) => d.severity === 'error').length;
}

function computeDevices(cluster: ClusterCheckResult): number[] {
  return cluster.devices.filter((device) => device.flopsPerSecond > 0).map((device) => device.index);
}

function readPlacement(identifier: Identifier | undefined, reporter: Reporter): RegularPlacementKind | undefined | null {
  if (identifier === undefined || identifier.name === '') return undefined;
  const kind = parsePlacementKind(identifier.name);
  if (kind !== undefined) return kind;
  reporter.report(diagnosticMessages.unknownPlacement, identifier.span, { what: 'placement', name: identifier.name }, placementNameSuggestion(identifier.name, identifier.span));
  return null;
}

/**
 * Ranks and the stage → rank map for a regular placement of `count` stages.
 * The ranks are the cluster's compute devices divided among the replicas;
 * when the user did not ask for a placement (plain `stages auto(N)`), fewer
 * stages than devices simply use the first N.
 */
function placeDeclaredKind(
  style: RegularPlacementKind,
  count: number,
  inputs: StageInputs,
  span: Span,
  capAtStageCount: boolean,
): { ranks: number; stageRank: readonly number[]; placement: Placement } | undefined {
  const computeCount = computeDevices(inputs.cluster).length;
  const available = Math.floor(computeCount / Math.max(1, inputs.replicas));
  const ranks = capAtStageCount ? Math.min(available, count) : available;
  if (ranks < 1) {
    inputs.reporter.report(diagnosticMessages.placementShape, span, {
      problem: `placement ${style} needs compute devices, but cluster '${inputs.cluster.name}' has ${computeCount} for ${inputs.replicas} replica(s)`,
    });
    return undefined;
  }
  if (isMirroredKind(style) && mirroredPlacementProblem(style, ranks) !== undefined) {
    inputs.reporter.report(diagnosticMessages.mirrorOddDevices, span, { placement: style, devices: ranks }, {
      hint: `use a cluster with ${ranks + 1} compute devices, or a single-copy placement (${singleCopyKind(style)})`,
    });
    return undefined;
  }
  const placement = placementFromDeclaration({ kind: style, devices: ranks, stages: count });
  if (isPlacementProblem(placement)) {
    const problem = placement;
    // A cluster with as many ranks as the stages make laps of one stage each would fit too.
    const fittingDevices = count / stageMultiple(style, 1);
    inputs.reporter.report(diagnosticMessages.placementShape, span, { problem: problem.problem }, {
      hint: `use ${problem.nearestStages} stages${inputs.replicas > 1 || !Number.isInteger(fittingDevices) ? '' : `, or a cluster with ${fittingDevices} compute devices`}`,
    });
    return undefined;
  }
  return { ranks, stageRank: placement.stageDevice, placement };
}


function planExplicit(block: StagesBlock, inputs: StageInputs): { stages: PlannedStage[]; placement: Placement; ranks: number } | undefined {
  const { reporter, cluster, table } = inputs;
  const placement = readPlacement(block.placement, reporter);
  if (placement === null) return undefined;
  let ok = true;

  const names = new Map<string, Span>();
  const deviceOfStage: (number | undefined)[] = [];
  for (const stage of block.stages) {
    const name = stage.name.name;
    const previous = names.get(name);
    if (name !== '' && previous !== undefined) {
      ok = false;
      reporter.report(diagnosticMessages.duplicateStage, stage.name.span, { name }, { related: [{ span: previous, message: 'first declared here' }] });
    } else if (name !== '') names.set(name, stage.name.span);

    if (placement !== undefined) {
      if (stage.device !== undefined) {
        ok = false;
        reporter.report(diagnosticMessages.placementWithDevice, stage.device.span, { name, placement }, {
          hint: `remove 'on ${stage.device.base.name}...', or remove 'placement ${placement}' and place every stage yourself`,
        });
      }
      deviceOfStage.push(undefined);
    } else if (stage.device === undefined) {
      ok = false;
      reporter.report(diagnosticMessages.stageWithoutDevice, stage.name.span, { name }, {
        hint: `write ${name} on <device> = ..., or ask for a placement: stages placement ${DEFAULT_PLACEMENT_KIND} { ... }`,
      });
      deviceOfStage.push(undefined);
    } else {
      const devices = resolveDevices(stage.device, cluster.groups, cluster.name, reporter, false);
      const device = devices?.[0];
      if (device === undefined) ok = false;
      else if (cluster.uncertainDevices.has(device)) ok = false; // its properties were already reported
      else if (cluster.devices[device].flopsPerSecond <= 0) {
        ok = false;
        reporter.report(diagnosticMessages.deviceCannotCompute, stage.device.span, { name: cluster.devices[device].name, stage: name }, {
          hint: `give it a speed (e.g. speed 100TFLOPS) or place the stage on a compute device`,
        });
      }
      deviceOfStage.push(device);
    }
  }

  // Layers: resolve references, then every layer exactly once, in order.
  let layersOk = true;
  const layerOwner = new Map<number, { stage: number; span: Span }>();
  const stageLayers: number[][] = [];
  let lastPlaced: { layer: number; stage: number } | undefined;
  block.stages.forEach((stage, stageIndex) => {
    const layers: number[] = [];
    // A stage without layers cannot be written without a syntax error, which the parser reports.
    if (stage.layers.length === 0) layersOk = false;
    for (const reference of stage.layers) {
      const resolved = resolveLayerReference(reference, inputs);
      if (resolved === undefined) { layersOk = false; continue; }
      for (const layer of resolved) {
        const owner = layerOwner.get(layer);
        if (owner !== undefined) {
          layersOk = false;
          reporter.report(diagnosticMessages.layerPlacedTwice, reference.span, {
            name: table.names[layer], first: block.stages[owner.stage].name.name, second: stage.name.name,
          }, { related: [{ span: owner.span, message: 'first placed here' }] });
          continue;
        }
        layerOwner.set(layer, { stage: stageIndex, span: reference.span });
        if (lastPlaced !== undefined && layer < lastPlaced.layer) {
          layersOk = false;
          const laterStage = block.stages[lastPlaced.stage].name.name;
          reporter.report(diagnosticMessages.stagesOutOfOrder, reference.span, {
            stage: stage.name.name, later: table.names[lastPlaced.layer], earlier: table.names[layer],
          }, {
            related: [{ span: layerOwner.get(lastPlaced.layer)!.span, message: `'${table.names[lastPlaced.layer]}' is taken here${laterStage === stage.name.name ? '' : `, in stage '${laterStage}'`}` }],
            hint: 'list layers in the order the model declares them; each stage continues where the previous one stopped',
          });
        }
        lastPlaced = { layer, stage: stageIndex };
        layers.push(layer);
      }
    }
    stageLayers.push(layers);
  });
  if (layersOk) {
    for (let layer = 0; layer < table.names.length; layer++) {
      if (layerOwner.has(layer)) continue;
      layersOk = false;
      reporter.report(diagnosticMessages.layerNotPlaced, block.span, { name: table.names[layer] }, {
        hint: `add '${table.names[layer]}' to the stage that holds the layers around it`,
        related: [{ span: table.spans[layer], message: 'declared here' }],
      });
    }
  }
  if (!ok || !layersOk) return undefined;

  let ranks: number;
  let stageRank: readonly number[];
  let placed: Placement;
  if (placement !== undefined) {
    const regular = placeDeclaredKind(placement, block.stages.length, inputs, block.placement!.span, false);
    if (regular === undefined) return undefined;
    ({ ranks, stageRank, placement: placed } = regular);
  } else {
    const used = [...new Set(deviceOfStage as number[])].sort((a, b) => a - b);
    ranks = used.length;
    const missing = Array.from({ length: ranks }, (_, i) => i).filter((i) => !used.includes(i));
    if (missing.length > 0) {
      const firstBad = block.stages.find((_, i) => (deviceOfStage[i] as number) >= ranks)!;
      reporter.report(diagnosticMessages.rankGap, firstBad.device!.span, {
        used: used.filter((d) => d >= ranks).map((d) => cluster.devices[d].name).join(', '),
        missing: missing.map((d) => cluster.devices[d].name).join(', '),
      }, { hint: `place stages on ${Array.from({ length: ranks }, (_, i) => cluster.devices[i].name).join(', ')}` });
      return undefined;
    }
    stageRank = deviceOfStage as number[];
    placed = placementFromDeclaration({ stageDevice: stageRank, devices: ranks });
  }
  return {
    placement: placed,
    ranks,
    stages: block.stages.map((stage, i) => ({
      name: stage.name.name, rank: stageRank[i], layers: stageLayers[i], recompute: false, offload: false, frozen: false, span: stage.span,
    })),
  };
}

function resolveLayerReference(reference: LayerReference, inputs: StageInputs): number[] | undefined {
  const { table, reporter, modelName } = inputs;
  const base = reference.base.name;
  if (base === '') return undefined;
  const scalar = table.scalars.get(base);
  const array = table.arrays.get(base);
  if (scalar === undefined && array === undefined) {
    if (table.uncertain.has(base)) return undefined; // its declaration's error is already reported
    reporter.report(diagnosticMessages.unknownLayer, reference.base.span, { model: modelName, name: base }, {
      ...suggestName(base, [...table.scalars.keys(), ...table.arrays.keys()], reference.base.span, { listUpTo: 0 }),
    });
    return undefined;
  }
  const index = reference.index;
  if (array === undefined) {
    if (index === undefined) return [scalar!];
    reporter.report(diagnosticMessages.layerIndex, index.span, { problem: `'${base}' is a single layer, not an array` }, { hint: `write ${base}` });
    return undefined;
  }
  const indices = [...array.keys()].sort((a, b) => a - b);
  const describe = indices.length === 1 ? `'${base}' has only index ${indices[0]}` : `'${base}' has indices ${indices[0]}–${indices[indices.length - 1]}`;
  if (index === undefined) return indices.map((i) => array.get(i)!);
  if (index.kind === 'RangeExpression') {
    const range = evaluateRange(index, EMPTY_SCOPE, reporter, 'a layer range');
    if (range === undefined) return undefined;
    if (range.to <= range.from) {
      reporter.report(diagnosticMessages.layerIndex, index.span, { problem: `the range ${base}[${range.from}..${range.to}] is empty` }, {
        hint: 'ranges are half-open: hidden[0..2] is hidden[0] and hidden[1]',
      });
      return undefined;
    }
    const found: number[] = [];
    for (let i = range.from; i < range.to; i++) {
      const layer = array.get(i);
      if (layer === undefined) {
        reporter.report(diagnosticMessages.layerIndex, index.span, { problem: `${base}[${i}] does not exist: ${describe}` }, {
          hint: 'ranges are half-open: hidden[0..2] is hidden[0] and hidden[1]',
        });
        return undefined;
      }
      found.push(layer);
    }
    return found;
  }
  const value = evaluateNumber(index, EMPTY_SCOPE, reporter, 'a layer index');
  if (value === undefined) return undefined;
  const layer = array.get(value);
  if (layer === undefined) {
    reporter.report(diagnosticMessages.layerIndex, index.span, { problem: `${base}[${value}] does not exist: ${describe}` });
    return undefined;
  }
  return [layer];
}

function planAuto(block: AutoStages, inputs: StageInputs): { stages: PlannedStage[]; placement: Placement; ranks: number } | undefined {
  const { reporter, table, model, cluster } = inputs;
  const count = evaluateNumber(block.count, EMPTY_SCOPE, reporter, 'the stage count');
  if (count === undefined) return undefined;
  if (!Number.isInteger(count) || count < 1 || count > table.names.length) {
    reporter.report(diagnosticMessages.stageCount, block.count.span, {
      problem: `auto(${count}) needs a whole number of stages between 1 and the model's ${table.names.length} layers`,
    });
    return undefined;
  }
  if (count > MAX_AUTO_STAGES) {
    reporter.report(diagnosticMessages.stageCount, block.count.span, {
      problem: `auto(${count}) asks for more stages than the automatic partitioner searches (at most ${MAX_AUTO_STAGES})`,
    }, { hint: 'write the stages out, or use fewer' });
    return undefined;
  }
  let balance: 'compute' | 'memory' = 'compute';
  if (block.balance !== undefined && block.balance.name !== '') {
    if (!(BALANCES as readonly string[]).includes(block.balance.name)) {
      reporter.report(diagnosticMessages.unknownPlacement, block.balance.span, { what: 'balance', name: block.balance.name }, {
        ...suggestName(block.balance.name, BALANCES, block.balance.span, { otherwise: 'balance compute or balance memory' }),
      });
      return undefined;
    }
    balance = block.balance.name as 'compute' | 'memory';
  }
  const placementName = readPlacement(block.placement, reporter);
  if (placementName === null) return undefined;
  const style = placementName ?? DEFAULT_PLACEMENT_KIND;
  const placed = placeDeclaredKind(style, count, inputs, block.placement?.span ?? block.count.span, placementName === undefined);
  if (placed === undefined) return undefined;
  if (model === undefined || inputs.microbatchSize === undefined) return undefined; // errors already reported

  const rankDevices = computeDevices(cluster).slice(0, placed.ranks).map((index) => cluster.devices[index]);
  const rows = inputs.microbatchSize;
  const speedOf = (rank: number) => rankDevices[rank].flopsPerSecond;
  // The partitioner wants one cost per layer; with uniform ranks the speed of rank 0 stands for all.
  const referenceSpeed = speedOf(0);
  const perParameter = bytesPerParameter(inputs.precision, inputs.optimizerStateFactor);
  // 1F1B's estimate: rank r holds P - r microbatches' activations. A stage the
  // pipeline marks `recompute` keeps only its input for those and one full
  // activation while it runs a backward; an `offload` stage keeps one.
  const marked = stageAttributes(inputs.pipeline);
  const inflight = placed.stageRank.map((rank) => placed.ranks - rank);
  const lean = (s: number) => marked.recompute.has(`s${s}`) || marked.offload.has(`s${s}`);
  const request = {
    layers: model.layers.map((layer) => ({
      computeTime: ((layer.forwardFlops + layer.backwardInputFlops + layer.backwardWeightFlops) * rows) / referenceSpeed,
      // A frozen layer holds its weights only: no gradient, no optimizer state.
      staticBytes: layer.parameters * perParameter.parameter + trainableParameters(layer) * (perParameter.gradient + perParameter.optimizerState),
      activationBytes: layer.activationBytes * rows * activationScale(inputs.precision),
      inputBytes: bytesPerExample(layer.inputShape) * rows * (layer.inputShape.dtype === 'i32' ? 1 : activationScale(inputs.precision)),
    })),
    stageCount: count,
    stageDevice: placed.stageRank,
    deviceCapacity: rankDevices.map((device) => device.memoryBytes),
    inflightMicrobatches: inflight.map((held, s) => (lean(s) ? 1 : held)),
    checkpointMicrobatches: inflight.map((held, s) => (marked.recompute.has(`s${s}`) && !marked.offload.has(`s${s}`) ? held : 0)),
    balance,
    withinCapacity: inputs.autoStagesMemory !== 'check-later',
  };
  const result = partitionLayers(request);
  if (!result.ok) {
    reporter.report(diagnosticMessages.autoPartition, block.span, { layers: table.names.length, stages: count, reason: result.reason });
    return undefined;
  }
  const boundaries = [...result.firstLayerOfStage, table.names.length];
  return {
    placement: placed.placement,
    ranks: placed.ranks,
    stages: Array.from({ length: count }, (_, s) => ({
      name: `s${s}`,
      rank: placed.stageRank[s],
      layers: Array.from({ length: boundaries[s + 1] - boundaries[s] }, (_, i) => boundaries[s] + i),
      recompute: false,
      offload: false,
      frozen: false,
      span: block.span,
    })),
  };
}

/** The stage names the pipeline's `recompute` and `offload` members list (`stages auto(N)` names its stages s0..sN-1). */
function stageAttributes(pipeline: PipelineDeclaration): { recompute: ReadonlySet<string>; offload: ReadonlySet<string> } {
  const recompute = new Set<string>();
  const offload = new Set<string>();
  for (const member of pipeline.members) {
    if (member.kind !== 'StageAttribute') continue;
    const into = member.attribute === 'recompute' ? recompute : member.attribute === 'offload' ? offload : undefined;
    if (into) for (const identifier of (member as StageAttribute).stages) into.add(identifier.name);
  }
  return { recompute, offload };
}

function applyAttributes(pipeline: PipelineDeclaration, stages: readonly PlannedStage[], reporter: Reporter): PlannedStage[] {
  const named = { recompute: new Set<string>(), offload: new Set<string>(), frozen: new Set<string>() };
  const known = stages.map((stage) => stage.name);
  for (const member of pipeline.members) {
    if (member.kind !== 'StageAttribute') continue;
    for (const identifier of (member as StageAttribute).stages) {
      if (identifier.name === '') continue;
      if (!known.includes(identifier.name)) {
        reporter.report(diagnosticMessages.unknownStage, identifier.span, { name: identifier.name, attribute: member.attribute }, {
          ...suggestName(identifier.name, known, identifier.span),
        });
        continue;
      }
      named[member.attribute].add(identifier.name);
    }
  }
  return stages.map((stage) => ({
    ...stage, recompute: named.recompute.has(stage.name), offload: named.offload.has(stage.name), frozen: named.frozen.has(stage.name),
  }));
}
