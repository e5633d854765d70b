// Hovers: what the compiler worked out about the name under the cursor. A
// layer's inferred shapes, parameters and FLOPs; a stage's device, layers
// and memory; a schedule's bubble and peak memory for this pipeline (the
// core's simulator on the compilation, under the program's derived costs).
// While the program has errors the checked program is missing, and a hover
// shows the declaration as written.

import type { Hover } from 'vscode-languageserver';
import {
  compiledDocument, describeBuiltinKind, formatMemory, formatPercent, formatShape, formatTime, visit,
  type CheckedLayer, type CheckedProgram, type SimulatedCompilation, type Span, type SymbolDefinition,
} from '../compiler/index.ts';
import { describeKind } from './navigation.ts';
import type { Analysis, Workspace } from './workspace.ts';

const number = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 3 });

export function hoverAt(workspace: Workspace, analysis: Analysis, offset: number): Hover | null {
  const occurrence = analysis.index.occurrenceAt(analysis.file, offset);
  if (occurrence !== undefined) {
    return { contents: { kind: 'markdown', value: describeSymbol(analysis, occurrence.symbol, offset) }, range: workspace.rangeOf(occurrence.span, analysis.compilation.sources) };
  }
  const searched = autoScheduleAt(analysis, offset);
  if (searched !== undefined) return { contents: { kind: 'markdown', value: searched.text }, range: workspace.rangeOf(searched.span) };
  const kind = layerKindAt(analysis, offset);
  if (kind !== undefined) return { contents: { kind: 'markdown', value: kind.text }, range: workspace.rangeOf(kind.span) };
  return null;
}

function describeSymbol(analysis: Analysis, symbol: SymbolDefinition, offset: number): string {
  const lines = ((): string[] => {
    switch (symbol.kind) {
      case 'layer': return describeLayer(analysis, symbol);
      case 'stage': return describeStage(analysis, symbol);
      case 'schedule': return describeSchedule(analysis, symbol, offset);
      case 'device': return describeDevice(analysis, symbol);
      case 'model': return describeModel(analysis, symbol);
      case 'pipeline': return describePipeline(analysis, symbol);
      case 'tensor': return describeTensor(analysis, symbol);
      default: return [];
    }
  })();
  const heading = `**${describeKind(symbol.kind)}** \`${symbol.name}\``;
  if (lines.length === 0) lines.push(codeBlock(declarationText(analysis, symbol)));
  else if (analysis.lastChecked !== undefined && STALE_KINDS.has(symbol.kind) && !lines.includes(NOT_CHECKED)) lines.push(STALE);
  return [heading, ...lines].join('\n\n');
}

function codeBlock(text: string): string {
  return `\`\`\`pipe\n${text}\n\`\`\``;
}

/** The first lines of a declaration as written. */
function declarationText(analysis: Analysis, symbol: SymbolDefinition): string {
  if (symbol.kind === 'file') return symbol.name;
  const text = analysis.compilation.sources.get(symbol.span.file) ?? '';
  const lines = text.slice(symbol.span.start, symbol.span.end).split('\n');
  return lines.length > 6 ? [...lines.slice(0, 5), '  …'].join('\n') : lines.join('\n');
}

const NOT_CHECKED = '_Shapes, costs and memory appear once the program checks without errors._';
const STALE = '_As of the last version that checked: the program has errors now._';
/** What a hover can still tell from the last checked program, by name. */
const STALE_KINDS: ReadonlySet<SymbolDefinition['kind']> = new Set(['layer', 'stage', 'tensor', 'device', 'model']);

/** The checked program whose model, cluster or pipeline is `container` (the selected pipeline's first). */
function programFor(analysis: Analysis, container: string | undefined): CheckedProgram | undefined {
  const { compilation } = analysis;
  const current = [compilation.program, ...(compilation.programs?.values() ?? [])].filter((program): program is CheckedProgram => program !== undefined);
  const candidates = current.length > 0 ? current : analysis.lastChecked ?? [];
  return candidates.find((program) => container === `model:${program.model.name}` || container === `cluster:${program.cluster.name}` || container === `pipeline:${program.pipeline.name}`);
}

/** Every checked layer with its name's indices dropped (`ffn[1].norm` → `ffn.norm`), the index's layer path. */
function flattenLayers(layers: readonly CheckedLayer[]): { path: string; layer: CheckedLayer }[] {
  return layers.flatMap((layer) => [{ path: layer.name.replace(/\[\d+\]/g, ''), layer }, ...flattenLayers(layer.children)]);
}

function describeLayer(analysis: Analysis, symbol: SymbolDefinition): string[] {
  const program = programFor(analysis, symbol.container);
  if (program === undefined) return [codeBlock(declarationText(analysis, symbol)), NOT_CHECKED];
  const path = symbol.key.slice(symbol.key.lastIndexOf('layer:') + 'layer:'.length);
  const instances = flattenLayers(program.model.layers).filter((entry) => entry.path === path);
  if (instances.length === 0) return [codeBlock(declarationText(analysis, symbol))];
  const shown = instances.slice(0, 6).map(({ layer }) => {
    const operator = layer.operator === 'Residual' ? 'residual block' : layer.operator;
    return [
      `\`${layer.name}\` · ${operator}: \`${formatShape(layer.inputShape)}\` → \`${formatShape(layer.outputShape)}\``,
      `parameters ${number(layer.parameters)}${layer.frozen ? ' (frozen: not trained)' : ''} · forward ${number(layer.forwardFlops)} FLOPs, backward ${number(layer.backwardInputFlops + layer.backwardWeightFlops)} FLOPs per example · activations ${formatMemory(layer.activationBytes, 'bytes')} per example`,
    ].join('  \n');
  });
  if (instances.length > shown.length) shown.push(`… and ${instances.length - shown.length} more`);
  return shown;
}

function describeStage(analysis: Analysis, symbol: SymbolDefinition): string[] {
  const program = programFor(analysis, symbol.container);
  const stage = program?.pipeline.stages.find((candidate) => candidate.name === symbol.name);
  if (program === undefined || stage === undefined) return [codeBlock(declarationText(analysis, symbol)), NOT_CHECKED];
  const device = program.cluster.devices[stage.device];
  const layers = stage.layers.map((index) => program.model.layers[index]?.name ?? `#${index}`);
  const { costs } = stage;
  const lines = [
    `stage ${stage.index} of ${program.pipeline.stages.length} on \`${device?.name ?? `rank ${stage.device}`}\` (rank ${stage.device})${stage.recompute ? ' · recompute' : ''}${stage.offload ? ' · offload' : ''}${stage.forwardOnly ? ' · frozen, forward only' : stage.frozen ? ' · frozen' : ''}`,
    `layers: ${layers.map((name) => `\`${name}\``).join(', ')}`,
    `\`${formatShape(stage.inputShape)}\` → \`${formatShape(stage.outputShape)}\``,
    `memory: weights ${formatMemory(costs.weightBytes, 'bytes')}, activations ${formatMemory(costs.activationBytes, 'bytes')} per microbatch · forward ${number(costs.forwardFlops)} FLOPs per microbatch`,
  ];
  const simulated = analysis.lastChecked === undefined ? analysis.simulation(program.pipeline.name) : undefined;
  const peak = simulated?.result.devices[stage.device]?.memory.peak;
  if (simulated !== undefined && peak !== undefined) lines.push(`peak memory of its device under \`${program.pipeline.schedule.name}\`: ${formatMemory(peak, simulated.memoryUnit)}`);
  return lines;
}

/** A schedule for the pipeline it is used in (the selected pipeline's, over a declaration): simulated. */
function describeSchedule(analysis: Analysis, symbol: SymbolDefinition, offset: number): string[] {
  const own = symbol.standardLibrary ? ['from the standard library (`std:schedules`)'] : [];
  const pipeline = pipelineAt(analysis, offset) ?? analysis.compilation.program?.pipeline.name;
  if (analysis.compilation.program === undefined || pipeline === undefined) return [...own, codeBlock(declarationText(analysis, symbol)), NOT_CHECKED];
  const simulated = analysis.simulation(pipeline, symbol.name);
  if (simulated === undefined) return [...own, `does not compile for pipeline \`${pipeline}\``];
  return [...own, ...describeSimulation(simulated)];
}

/** The name of the pipeline declaration around `offset`, if any. */
function pipelineAt(analysis: Analysis, offset: number): string | undefined {
  const document = compiledDocument(analysis.compilation);
  return document?.declarations.find((declaration) => declaration.kind === 'PipelineDeclaration' && declaration.span.start <= offset && offset <= declaration.span.end)?.name.name;
}

function describeSimulation(simulated: SimulatedCompilation): string[] {
  const { result, timeUnit, memoryUnit } = simulated;
  const peaks = result.devices.map((device) => device.memory.peak);
  const highest = Math.max(...peaks);
  const busiest = peaks.indexOf(highest);
  return [
    simulated.title,
    `bubble **${formatPercent(result.bubble)}** · makespan ${formatTime(result.makespan, timeUnit)}`,
    `peak memory **${formatMemory(highest, memoryUnit)}** (on \`${result.devices[busiest]?.label ?? busiest}\`); per device: ${peaks.map((peak) => formatMemory(peak, memoryUnit)).join(', ')}`,
  ];
}

function describeDevice(analysis: Analysis, symbol: SymbolDefinition): string[] {
  const program = programFor(analysis, symbol.container);
  const devices = program?.cluster.devices.filter((device) => device.name === symbol.name || device.name.startsWith(`${symbol.name}[`)) ?? [];
  if (devices.length === 0) return [codeBlock(declarationText(analysis, symbol))];
  const [first] = devices;
  return [
    `${devices.length} device${devices.length === 1 ? '' : 's'}${devices.length > 1 ? ` (\`${first.name}\` … \`${devices[devices.length - 1].name}\`)` : ''}`,
    `memory ${formatMemory(first.memoryBytes, 'bytes')} · speed ${number(first.flopsPerSecond / 1e9)} GFLOP/s`,
  ];
}

function describeTensor(analysis: Analysis, symbol: SymbolDefinition): string[] {
  const model = programFor(analysis, symbol.container)?.model;
  const tensor = [...(model?.inputs ?? []), ...(model?.targets ?? [])].find((candidate) => candidate.name === symbol.name);
  return tensor === undefined ? [] : [`${tensor.role} \`${formatShape(tensor.shape)}\``];
}

function describeModel(analysis: Analysis, symbol: SymbolDefinition): string[] {
  const program = programFor(analysis, `model:${symbol.name}`);
  if (program === undefined) return [];
  const { model } = program;
  const parameters = model.layers.reduce((sum, layer) => sum + layer.parameters, 0);
  const flops = model.layers.reduce((sum, layer) => sum + layer.forwardFlops, 0);
  return [`${model.layers.length} layers · ${number(parameters)} parameters · forward ${number(flops)} FLOPs per example`];
}

function describePipeline(analysis: Analysis, symbol: SymbolDefinition): string[] {
  const program = programFor(analysis, `pipeline:${symbol.name}`);
  if (program === undefined) return [];
  const { pipeline } = program;
  const lines = [`${pipeline.stages.length} stages on ${pipeline.devicesPerReplica} devices${pipeline.replicas > 1 ? ` × ${pipeline.replicas} replicas` : ''} · batch ${pipeline.batch} in ${pipeline.microbatches} microbatches · schedule \`${pipeline.schedule.name}\``];
  const simulated = analysis.simulation(pipeline.name);
  if (simulated !== undefined) lines.push(...describeSimulation(simulated).slice(1));
  return lines;
}

/** `schedule auto(...)` under the cursor: the schedule the search found for this pipeline, simulated. */
function autoScheduleAt(analysis: Analysis, offset: number): { text: string; span: Span } | undefined {
  const document = compiledDocument(analysis.compilation);
  const pipeline = document?.declarations.find((declaration) => declaration.kind === 'PipelineDeclaration' && declaration.span.start <= offset && offset <= declaration.span.end);
  if (pipeline?.kind !== 'PipelineDeclaration') return undefined;
  const use = pipeline.members.find((member) => member.kind === 'ScheduleUse' && member.name.name === 'auto' && member.name.span.start <= offset && offset <= member.name.span.end);
  if (use?.kind !== 'ScheduleUse') return undefined;
  const simulated = analysis.compilation.program === undefined ? undefined : analysis.simulation(pipeline.name.name);
  const lines = simulated === undefined ? [NOT_CHECKED] : describeSimulation(simulated);
  return { text: ['**schedule** `auto`: searched by the automatic scheduler within the memory bound', ...lines].join('\n\n'), span: use.name.span };
}

/** A built-in layer kind under the cursor (`Dense` in `layer fc1 = Dense(...)`): its summary and arguments. */
function layerKindAt(analysis: Analysis, offset: number): { text: string; span: { file: string; start: number; end: number } } | undefined {
  const document = compiledDocument(analysis.compilation);
  if (document === undefined) return undefined;
  let found: { text: string; span: { file: string; start: number; end: number } } | undefined;
  visit(document, {
    enter(node) {
      if (found !== undefined || node.span.start > offset || node.span.end < offset) return false;
      if (node.kind !== 'LayerDeclaration' || node.operator.span.start > offset || node.operator.span.end < offset) return undefined;
      const definition = describeBuiltinKind(node.operator.name);
      if (definition === undefined) return false;
      const argumentsText = definition.arguments.map((argument) => {
        const type = argument.type === 'enum' ? (argument.values ?? []).join(' | ') : argument.type;
        const given = argument.required ? 'required' : argument.default !== undefined ? `default ${String(argument.default)}` : 'optional';
        return `- \`${argument.name}\`: ${type} (${given}) — ${argument.description}`;
      });
      found = {
        text: [`**layer kind** \`${definition.name}\``, definition.summary, `shape: ${definition.shapeRule}`, ...(argumentsText.length > 0 ? ['arguments:', argumentsText.join('\n')] : [])].join('\n\n'),
        span: node.operator.span,
      };
      return false;
    },
  });
  return found;
}
