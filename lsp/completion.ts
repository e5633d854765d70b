// Completion: what may be written where the cursor is. The enclosing block
// (model, cluster, pipeline, stages, schedule) comes from the tokens before
// the cursor, so it works on half-typed text; the candidates come from the
// core's catalogs (layer kinds and their arguments, settings, optimizers,
// data sources, placements, built-in schedules) and from the symbol index
// (the program's schedules, models, clusters, devices, layers, stages).

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { CompletionItemKind, InsertTextFormat, type CompletionItem } from 'vscode-languageserver';
import {
  builtinScheduleNames, compiledDocument, describeBuiltinKind, DTYPES, LAYER_KINDS, lexicalTokens, LOSS_FUNCTIONS, MERGE_KINDS,
  pipelineSettingsCatalog, REGULAR_PLACEMENT_KINDS,
  type ArgumentSchema, type ClusterDeclaration, type Document, type SymbolDefinition,
} from '../compiler/index.ts';
import type { Analysis, Workspace } from './workspace.ts';

type Block = 'top' | 'model' | 'cluster' | 'pipeline' | 'stages' | 'schedule' | 'other';

/** Keywords that open a block with `{`, and what the block is. */
const BLOCK_OPENERS: Readonly<Record<string, Block>> = {
  model: 'model', cluster: 'cluster', pipeline: 'pipeline', schedule: 'schedule', stages: 'stages',
  repeat: 'model', residual: 'model', on: 'schedule', for: 'schedule', if: 'schedule', else: 'schedule', overlap: 'schedule',
};

/** The blocks the cursor sits in, outermost first, and the top-level declaration's name. */
function enclosingBlocks(text: string, offset: number): { blocks: Block[]; declaration?: string } {
  const stack: { block: Block; declaration?: string }[] = [];
  let opener: Block | undefined;
  let declarationName: string | undefined;
  let expectName = false;
  for (const token of lexicalTokens(text)) {
    if (token.start >= offset) break;
    if (token.class === 'comment') continue;
    const image = text.slice(token.start, token.end);
    if (image === '{') {
      const block = opener ?? 'other';
      stack.push({ block, declaration: stack.length === 0 ? declarationName : undefined });
      opener = undefined;
      continue;
    }
    if (image === '}') {
      stack.pop();
      opener = undefined;
      continue;
    }
    if (expectName && token.class === 'name') {
      declarationName = image;
      expectName = false;
    }
    if (token.class === 'keyword' && Object.hasOwn(BLOCK_OPENERS, image)) {
      // In a pipeline only `stages` opens a block; `model mlp` and `schedule 1f1b` are settings.
      if (stack[0]?.block !== 'pipeline' || image === 'stages') opener = BLOCK_OPENERS[image];
      if (stack.length === 0) expectName = true;
    }
  }
  return { blocks: stack.map((entry) => entry.block), declaration: stack[0]?.declaration };
}

const STATEMENT_KEYWORDS: Readonly<Record<Block, readonly string[]>> = {
  top: ['model', 'cluster', 'pipeline', 'schedule', 'import', 'extern layer'],
  model: ['dim', 'input', 'target', 'layer', 'frozen', 'repeat', 'residual', 'loss'],
  cluster: ['device', 'link'],
  pipeline: [],
  stages: [],
  schedule: ['let', 'on device', 'for', 'if', 'overlap', 'split backward', 'limit activations', 'priority', 'recompute when live >', 'offload ratio', 'requires'],
  other: [],
};

/**
 * The completions at `offset`, each replacing what is already typed of it
 * (`worker[` of `worker[2]`, `./sh` of `./shared.pipe`): brackets, dots and
 * slashes are no word characters to an editor, so it would not replace them.
 */
export function completionsAt(workspace: Workspace, analysis: Analysis, offset: number): CompletionItem[] {
  const { text } = analysis;
  const line = text.slice(text.lastIndexOf('\n', offset - 1) + 1, offset);
  const importPath = /^\s*import\s+"([^"]*)$/.exec(line);
  const typed = importPath !== null ? importPath[1] : (/[A-Za-z0-9_[\].-]*$/.exec(line)?.[0] ?? '');
  const range = { start: workspace.positionOf(analysis.file, offset - typed.length), end: workspace.positionOf(analysis.file, offset) };
  return candidates(analysis, offset, line).map((item) => ({ ...item, textEdit: { range, newText: item.insertText ?? item.label }, insertText: undefined }));
}

function candidates(analysis: Analysis, offset: number, line: string): CompletionItem[] {
  const { text } = analysis;
  const { blocks, declaration } = enclosingBlocks(text, offset);
  const block: Block = blocks.length === 0 ? 'top' : blocks[blocks.length - 1];
  const outer: Block = blocks[0] ?? 'top';
  const definitions = analysis.index.definitions;
  const named = (kind: SymbolDefinition['kind'], container?: string) => definitions.filter((d) => d.kind === kind && (container === undefined || d.container === container));
  const pipeline = outer === 'pipeline' && declaration !== undefined ? pipelineTargets(compiledDocument(analysis.compilation), declaration) : {};

  // An import's path: the standard library and the .pipe files beside this one.
  const importPath = /^\s*import\s+"([^"]*)$/.exec(line);
  if (importPath !== null) return importItems(analysis.file, importPath[1]);

  // Inside a call's parentheses: arguments, or an enum argument's values.
  const call = /([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)$/.exec(line);
  if (call !== null) {
    const schema = argumentSchema(call[1], line);
    if (schema !== undefined) {
      const value = /([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[A-Za-z0-9_]*$/.exec(call[2]);
      if (value !== null) {
        const parameter = schema.find((candidate) => candidate.name === value[1]);
        return (parameter?.values ?? []).map((name) => ({ label: name, kind: CompletionItemKind.EnumMember }));
      }
      const given = new Set([...call[2].matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*:/g)].map((match) => match[1]));
      return schema.filter((parameter) => !given.has(parameter.name)).map(argumentItem);
    }
  }

  if (outer === 'model' && /\blayer\s+[A-Za-z_][\w[\]]*\s*=\s*[A-Za-z_]*$/.test(line)) {
    return [
      ...[...LAYER_KINDS, ...MERGE_KINDS].map((kind) => layerKindItem(kind)),
      ...named('externLayer').map((extern) => ({ label: extern.name, kind: CompletionItemKind.Interface, detail: 'extern layer' })),
    ];
  }
  if (outer === 'model' && /\bloss\s+[A-Za-z_]*$/.test(line)) return LOSS_FUNCTIONS.map((name) => ({ label: name, kind: CompletionItemKind.Function }));
  if (outer === 'model' && /\b(input|target)\s+\w+\s*:\s*[a-z0-9]*$/.test(line)) return DTYPES.map((name) => ({ label: name, kind: CompletionItemKind.TypeParameter }));

  if (outer === 'pipeline') {
    const catalog = pipelineSettingsCatalog();
    if (/\bschedule\s+[A-Za-z0-9_-]*$/.test(line)) return scheduleItems(named('schedule'));
    if (/\bmodel\s+\w*$/.test(line)) return named('model').map((model) => ({ label: model.name, kind: CompletionItemKind.Class, detail: 'model' }));
    if (/\bcluster\s+\w*$/.test(line)) return named('cluster').map((cluster) => ({ label: cluster.name, kind: CompletionItemKind.Module, detail: 'cluster' }));
    if (/\boptimizer\s+\w*$/.test(line)) return Object.keys(catalog.optimizers).map((name) => ({ label: name, kind: CompletionItemKind.Function, detail: 'optimizer' }));
    if (/\bdata\s+\w*$/.test(line)) return Object.keys(catalog.dataSources).map((name) => ({ label: name, kind: CompletionItemKind.Function, detail: 'data source' }));
    if (/\bremainder\s+\w*$/.test(line)) return catalog.remainders.map((name) => ({ label: name, kind: CompletionItemKind.EnumMember }));
    if (/\bplacement\s+\w*$/.test(line)) return REGULAR_PLACEMENT_KINDS.map((name) => ({ label: name, kind: CompletionItemKind.EnumMember, detail: 'placement' }));
    if (/\bbalance\s+\w*$/.test(line)) return ['compute', 'memory'].map((name) => ({ label: name, kind: CompletionItemKind.EnumMember }));
    if (/\b(recompute|offload|frozen)\s+(\w+\s*,\s*)*\w*$/.test(line)) {
      return named('stage', `pipeline:${declaration}`).map((stage) => ({ label: stage.name, kind: CompletionItemKind.Property, detail: 'stage' }));
    }
    if (block === 'stages') {
      if (/\bon\s+[\w[\]]*$/.test(line)) return deviceItems(analysis, pipeline.cluster);
      if (/=\s*([\w[\].]+\s*,\s*)*[\w[]*$/.test(line)) return layerItems(analysis, pipeline.model);
      return [];
    }
    if (/^\s*[A-Za-z_]*$/.test(line)) {
      return [...catalog.settings, 'stages', 'schedule', 'recompute', 'offload', 'frozen'].map((name) => ({ label: name, kind: CompletionItemKind.Keyword, detail: 'pipeline setting' }));
    }
    return [];
  }

  if (/^\s*[A-Za-z_]*$/.test(line)) {
    const words = STATEMENT_KEYWORDS[outer === 'model' || outer === 'cluster' || outer === 'schedule' ? outer : block];
    return words.map((word) => ({ label: word, kind: CompletionItemKind.Keyword }));
  }
  return [];
}

/** The arguments of what is being called: a layer kind, an optimizer or a data source. */
function argumentSchema(callee: string, line: string): readonly ArgumentSchema[] | undefined {
  const catalog = pipelineSettingsCatalog();
  if (/\boptimizer\s+\w+\s*\([^()]*$/.test(line)) return catalog.optimizers[callee];
  if (/\bdata\s+\w+\s*\([^()]*$/.test(line)) return catalog.dataSources[callee];
  return describeBuiltinKind(callee)?.arguments;
}

function argumentItem(parameter: ArgumentSchema): CompletionItem {
  const type = parameter.type === 'enum' ? (parameter.values ?? []).join(' | ') : parameter.type;
  return {
    label: parameter.name,
    kind: CompletionItemKind.Field,
    detail: `${type}${parameter.required ? ' (required)' : parameter.default !== undefined ? ` = ${String(parameter.default)}` : ''}`,
    documentation: parameter.description,
    insertText: `${parameter.name}: `,
  };
}

function layerKindItem(kind: string): CompletionItem {
  const definition = describeBuiltinKind(kind)!;
  const required = definition.arguments.filter((argument) => argument.required);
  const snippet = required.map((argument, index) => `${argument.name}: \${${index + 1}}`).join(', ');
  return {
    label: kind,
    kind: CompletionItemKind.Class,
    detail: 'layer kind',
    documentation: { kind: 'markdown', value: `${definition.summary}\n\nshape: ${definition.shapeRule}` },
    insertText: `${kind}(${snippet})`,
    insertTextFormat: InsertTextFormat.Snippet,
  };
}

function scheduleItems(declared: readonly SymbolDefinition[]): CompletionItem[] {
  const names = new Set([...declared.map((d) => d.name), ...builtinScheduleNames()]);
  return [
    ...[...names].map((name) => ({ label: name, kind: CompletionItemKind.Function, detail: builtinScheduleNames().includes(name) ? 'built-in schedule' : 'schedule' })),
    { label: 'auto', kind: CompletionItemKind.Function, detail: 'searched schedule', insertText: 'auto(memory: ${1:1} * activations(${2:1f1b}))', insertTextFormat: InsertTextFormat.Snippet },
  ];
}

/** The model and cluster a pipeline names (from the parsed text). */
function pipelineTargets(document: Document | undefined, pipelineName: string): { model?: string; cluster?: string } {
  const pipeline = document?.declarations.find((declaration) => declaration.kind === 'PipelineDeclaration' && declaration.name.name === pipelineName);
  if (pipeline?.kind !== 'PipelineDeclaration') return {};
  const setting = (key: string) => {
    const member = pipeline.members.find((candidate) => candidate.kind === 'PipelineSetting' && candidate.key.name === key);
    return member?.kind === 'PipelineSetting' && member.value.kind === 'NameExpression' ? member.value.name.name : undefined;
  };
  return { model: setting('model'), cluster: setting('cluster') };
}

/** Every device of the cluster, one per index (`worker[0]` … `worker[3]`). */
function deviceItems(analysis: Analysis, clusterName: string | undefined): CompletionItem[] {
  const cluster = analysis.compilation.parsed?.loaded.documents
    .flatMap((loaded) => loaded.document.declarations)
    .find((declaration): declaration is ClusterDeclaration => declaration.kind === 'ClusterDeclaration' && declaration.name.name === clusterName);
  if (cluster === undefined) return [];
  return cluster.members.flatMap((member) => {
    if (member.kind !== 'DeviceDeclaration') return [];
    const { range } = member;
    if (range === undefined) return [{ label: member.name.name, kind: CompletionItemKind.EnumMember, detail: 'device' }];
    const from = range.from.kind === 'NumberLiteral' ? range.from.value : 0;
    const to = range.to.kind === 'NumberLiteral' ? range.to.value : from;
    const count = Math.max(0, Math.min(to - from, 64));
    return Array.from({ length: count }, (_, i) => ({ label: `${member.name.name}[${from + i}]`, kind: CompletionItemKind.EnumMember, detail: 'device' }));
  });
}

/** The model's layers as stages name them: checked instances (`hidden[0]`) when the program checks, else the declared names. */
function layerItems(analysis: Analysis, modelName: string | undefined): CompletionItem[] {
  const checked = [analysis.compilation.program, ...(analysis.compilation.programs?.values() ?? [])].find((program) => program?.model.name === modelName);
  const names = checked !== undefined
    ? checked.model.layers.map((layer) => layer.name)
    : analysis.index.definitions.filter((d) => d.kind === 'layer' && d.container === `model:${modelName}` && !d.key.slice(d.key.lastIndexOf('layer:')).includes('.')).map((d) => d.name);
  return names.map((name) => ({ label: name, kind: CompletionItemKind.Field, detail: 'layer' }));
}

/** `std:schedules` and the .pipe files of the folder the typed path points into (relative to this file). */
function importItems(file: string, typed: string): CompletionItem[] {
  const items: CompletionItem[] = [{ label: 'std:schedules', kind: CompletionItemKind.Module, detail: 'the standard library of schedules' }];
  if (!path.isAbsolute(file)) return items;
  const folder = typed.includes('/') ? typed.slice(0, typed.lastIndexOf('/') + 1) : './';
  try {
    for (const entry of readdirSync(path.resolve(path.dirname(file), folder), { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') items.push({ label: `${folder}${entry.name}/`, kind: CompletionItemKind.Folder });
      else if (entry.isFile() && entry.name.endsWith('.pipe') && path.join(path.resolve(path.dirname(file), folder), entry.name) !== file) {
        items.push({ label: `${folder}${entry.name}`, kind: CompletionItemKind.File });
      }
    }
  } catch {
    // A folder that does not exist (yet): only the standard library.
  }
  return items;
}
