// Rewriting a pipeline declaration's AST: another schedule, another split
// into stages, another microbatch count, replica count, per-replica batch,
// recompute / offload stages or precision, and a cluster's device memory.
// The new nodes take the spans of the members they replace, so a
// diagnostic about them points at the user's own line. Used by withSchedule
// / withStages (compiler/compilation.ts) and tune.

import type * as ast from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import type { RegularPlacementKind } from '../placement.ts';

export interface TuneConfiguration {
  readonly stages: number;
  readonly stagesPerDevice: number;
  readonly placement: RegularPlacementKind;
  readonly microbatches: number;
  /** As written in the program: `1f1b`, `auto(memory: 2 * activations(1f1b))`. */
  readonly schedule: string;
  /** Data-parallel replicas; absent: the program's own setting. */
  readonly replicas?: number;
  /** Examples per replica per step (the `batch` setting); absent: the program's. */
  readonly batch?: number;
  /** Stages (s0..sN-1 of the new split) with activation checkpointing; absent: none. */
  readonly recompute?: readonly string[];
  /** Stages whose activations wait in host memory; absent: none. */
  readonly offload?: readonly string[];
  /** `precision` setting; absent: the program's own. */
  readonly precision?: 'fp32' | 'bf16' | 'fp16';
  /**
   * The layers of each stage, written out (`stages placement P { s0 = ... }`)
   * instead of `stages auto(N)`: for a split the partitioner's memory
   * estimate refuses but the memory check accepts. Names as CheckedLayer
   * names them (`conv[3]`).
   */
  readonly stageLayers?: readonly (readonly string[])[];
}

function identifier(name: string, span: Span): ast.Identifier {
  return { kind: 'Identifier', name, span };
}

function numberLiteral(value: number, span: Span): ast.NumberLiteral {
  return { kind: 'NumberLiteral', value, text: String(value), span };
}

/** `stages placement P { s0 = a, b[1] ... }`. */
function writtenStages(stageLayers: readonly (readonly string[])[], placement: string, span: Span): ast.StagesBlock {
  return {
    kind: 'StagesBlock',
    placement: identifier(placement, span),
    stages: stageLayers.map((layers, s) => ({
      kind: 'StageDeclaration',
      name: identifier(`s${s}`, span),
      layers: layers.map((name) => layerReference(name, span)),
      span,
    })),
    span,
  };
}

/** `conv` or `conv[3]` as a layer reference (writableLayerName says which names can be). */
function layerReference(name: string, span: Span): ast.LayerReference {
  const indexed = /^(\w+)\[(\d+)\]$/.exec(name);
  if (indexed === null) return { kind: 'LayerReference', base: identifier(name, span), span };
  return { kind: 'LayerReference', base: identifier(indexed[1], span), index: numberLiteral(Number(indexed[2]), span), span };
}

/** Whether a layer's name can be written as a stage's layer reference (a nested `block[2].attn` cannot). */
export function writableLayerName(name: string): boolean {
  return /^[A-Za-z_]\w*(\[\d+\])?$/.test(name);
}

/** A pipeline setting's value: a number, or a name (`precision bf16`). */
function settingValue(key: string, value: number | string, span: Span): ast.Expression {
  if (typeof value === 'number') return numberLiteral(value, span);
  if (key !== 'precision') throw new Error(`tune: the setting ${key} takes a number`);
  return { kind: 'NameExpression', name: identifier(value, span), span };
}

/** `auto(memory: K * activations(1f1b))` or a plain name, as a ScheduleUse. */
function scheduleUse(text: string, span: Span): ast.ScheduleUse {
  const auto = /^auto\(memory: ([\d.]+) \* activations\((\w+)\)\)$/.exec(text);
  if (!auto) return { kind: 'ScheduleUse', name: identifier(text, span), args: [], span };
  const factor = Number(auto[1]);
  const value: ast.BinaryExpression = {
    kind: 'BinaryExpression',
    operator: '*',
    left: numberLiteral(factor, span),
    right: {
      kind: 'CallExpression',
      callee: identifier('activations', span),
      args: [{ kind: 'Argument', value: { kind: 'NameExpression', name: identifier(auto[2], span), span }, span }],
      span,
    },
    span,
  };
  return { kind: 'ScheduleUse', name: identifier('auto', span), args: [{ kind: 'Argument', name: identifier('memory', span), value, span }], span };
}

/** The document with only the pipeline's schedule replaced (`pipec show --compare`). */
export function rewriteSchedule(document: ast.Document, pipeline: ast.PipelineDeclaration, schedule: string): ast.Document {
  let replaced = false;
  const members = pipeline.members.map((member) => {
    if (member.kind !== 'ScheduleUse' || replaced) return member;
    replaced = true;
    return scheduleUse(schedule, member.span);
  });
  if (!replaced) members.push(scheduleUse(schedule, { file: pipeline.span.file, start: pipeline.span.end, end: pipeline.span.end }));
  const rewritten: ast.PipelineDeclaration = { ...pipeline, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === pipeline ? rewritten : declaration)) };
}

/** The pipeline declaration named `name` (or the first) in a document. */
export function findPipeline(document: ast.Document, name?: string): ast.PipelineDeclaration | undefined {
  return document.declarations.find(
    (declaration): declaration is ast.PipelineDeclaration =>
      declaration.kind === 'PipelineDeclaration' && (name === undefined || declaration.name.name === name),
  );
}

/** The document with the pipeline's microbatches, stages and schedule replaced. */
export function rewriteDocument(document: ast.Document, pipeline: ast.PipelineDeclaration, configuration: TuneConfiguration): ast.Document {
  const members: ast.PipelineMember[] = [];
  let stagesDone = false;
  let microbatchesDone = false;
  let scheduleDone = false;
  let attributeSpan: Span | undefined;
  // Settings the configuration may replace; undefined keeps the program's.
  const replaced: Record<string, number | string | undefined> = { replicas: configuration.replicas, batch: configuration.batch, precision: configuration.precision };
  const settingsDone = new Set<string>();
  for (const member of pipeline.members) {
    if (member.kind === 'StagesBlock' || member.kind === 'AutoStages') {
      if (stagesDone) continue;
      stagesDone = true;
      const span = member.span;
      if (configuration.stageLayers !== undefined) {
        members.push(writtenStages(configuration.stageLayers, configuration.placement, span));
        continue;
      }
      members.push({
        kind: 'AutoStages',
        count: numberLiteral(configuration.stages, span),
        balance: identifier('compute', span),
        ...(configuration.stagesPerDevice > 1 ? { placement: identifier(configuration.placement, span) } : {}),
        span,
      });
    } else if (member.kind === 'ScheduleUse') {
      if (scheduleDone) continue;
      scheduleDone = true;
      members.push(scheduleUse(configuration.schedule, member.span));
    } else if (member.kind === 'PipelineSetting' && member.key.name === 'microbatches') {
      microbatchesDone = true;
      members.push({ ...member, value: numberLiteral(configuration.microbatches, member.value.span) });
    } else if (member.kind === 'PipelineSetting' && member.key.name in replaced) {
      const value = replaced[member.key.name];
      settingsDone.add(member.key.name);
      members.push(value === undefined ? member : { ...member, value: settingValue(member.key.name, value, member.value.span) });
    } else if (member.kind === 'StageAttribute') {
      // recompute / offload name stages of the old split; the new split has other stages.
      attributeSpan ??= member.span;
      continue;
    } else {
      members.push(member);
    }
  }
  const end: Span = { file: pipeline.span.file, start: pipeline.span.end, end: pipeline.span.end };
  if (!microbatchesDone) members.unshift({ kind: 'PipelineSetting', key: identifier('microbatches', end), value: numberLiteral(configuration.microbatches, end), span: end });
  for (const [key, value] of Object.entries(replaced)) {
    if (value !== undefined && !settingsDone.has(key)) members.unshift({ kind: 'PipelineSetting', key: identifier(key, end), value: settingValue(key, value, end), span: end });
  }
  const attributeAt = attributeSpan ?? end;
  for (const attribute of ['recompute', 'offload'] as const) {
    const stages = configuration[attribute] ?? [];
    if (stages.length > 0) members.push({ kind: 'StageAttribute', attribute, stages: stages.map((name) => identifier(name, attributeAt)), span: attributeAt });
  }
  if (!scheduleDone) members.push(scheduleUse(configuration.schedule, end));
  const rewritten: ast.PipelineDeclaration = { ...pipeline, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === pipeline ? rewritten : declaration)) };
}

/**
 * The document with the device declarations of cluster `clusterName` that
 * `raise` picks given `bytes` of memory: what tune compiles before it says
 * "it would fit on devices with X". Undefined when the cluster is not
 * declared in the document (it was imported).
 */
export function rewriteDeviceMemory(document: ast.Document, clusterName: string, raise: (device: ast.DeviceDeclaration) => boolean, bytes: number): ast.Document | undefined {
  const cluster = document.declarations.find(
    (declaration): declaration is ast.ClusterDeclaration => declaration.kind === 'ClusterDeclaration' && declaration.name.name === clusterName,
  );
  if (cluster === undefined) return undefined;
  const members = cluster.members.map((member) => {
    if (member.kind !== 'DeviceDeclaration' || !raise(member)) return member;
    const memory: ast.QuantityLiteral = { kind: 'QuantityLiteral', value: bytes, unit: 'B', text: `${bytes}B`, span: member.span };
    const properties = member.properties.some((property) => property.key.name === 'memory')
      ? member.properties.map((property) => (property.key.name === 'memory' ? { ...property, value: { ...memory, span: property.value.span } } : property))
      : [...member.properties, { kind: 'Property' as const, key: identifier('memory', member.span), value: memory, span: member.span }];
    return { ...member, properties };
  });
  const rewritten: ast.ClusterDeclaration = { ...cluster, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === cluster ? rewritten : declaration)) };
}
