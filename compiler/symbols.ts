// The names of a program and where each is written: every declaration
// (models, clusters, pipelines, schedules, extern layers, and inside them
// layers, dims, tensors, devices, stages, schedule parameters) and every use
// of one (a pipeline's `model mlp`, a stage's `on gpu[0] = fc1`, `recompute
// s0`, `schedule 1f1b`, an import's path). Built from the parsed documents
// only, so it works while the program has errors: an editor's go to
// definition, find references, rename, outline and semantic colouring all
// read this one index.

import type * as ast from '../grammar/ast.ts';
import type { Span } from '../grammar/source.ts';
import { visit } from '../grammar/visit.ts';
import type { Compilation } from './compilation.ts';
import { normaliseScheduleName } from './schedule/builtin.ts';
import { MERGE_KINDS } from './layers/catalog.ts';

export type SymbolKind =
  | 'model' | 'cluster' | 'pipeline' | 'schedule' | 'externLayer'
  | 'layer' | 'dim' | 'tensor' | 'device' | 'stage' | 'parameter' | 'file';

export interface SymbolDefinition {
  /** Unique within the index: kind, the declarations it sits in, its name. */
  readonly key: string;
  readonly kind: SymbolKind;
  readonly name: string;
  /** Where its name is written (a file symbol: the file's start). */
  readonly nameSpan: Span;
  /** The whole declaration. */
  readonly span: Span;
  /** The declaration it belongs to (a layer's model, a stage's pipeline), by key. */
  readonly container?: string;
  /** Declared by the standard library (`std:schedules`), not by the user. */
  readonly standardLibrary: boolean;
}

/** One place a symbol's name is written: its declaration or a use. */
export interface SymbolOccurrence {
  readonly symbol: SymbolDefinition;
  readonly span: Span;
  readonly isDefinition: boolean;
}

export interface SymbolIndex {
  readonly definitions: readonly SymbolDefinition[];
  readonly occurrences: readonly SymbolOccurrence[];
  /** The occurrence whose name covers `offset` (its end included, as a cursor right after a name is on it). */
  occurrenceAt(file: string, offset: number): SymbolOccurrence | undefined;
  /** Every occurrence of a symbol, its declaration first. */
  occurrencesOf(symbol: SymbolDefinition): readonly SymbolOccurrence[];
}

/** A loaded document as the index reads it. */
export interface IndexedDocument {
  readonly file: string;
  readonly document: ast.Document;
  readonly isStandardLibrary: boolean;
}

/** The index of a program compilation's documents (the entry, its imports and the standard library). */
export function indexCompilationSymbols(compilation: Compilation): SymbolIndex {
  const documents = compilation.parsed?.loaded.documents ?? [];
  const host = compilation.host;
  return indexSymbols(documents, (from, specifier) => (specifier.startsWith('std:') ? specifier : host?.resolveImport(from, specifier) ?? specifier));
}

/** Operators whose `skip` argument names an earlier layer (the catalog's merge kinds). */
const MERGE_OPERATORS: ReadonlySet<string> = new Set(MERGE_KINDS);

/** Pipeline settings whose value names a top-level declaration. */
const SETTING_TARGETS: Readonly<Record<string, SymbolKind>> = { model: 'model', cluster: 'cluster' };

export function indexSymbols(documents: readonly IndexedDocument[], resolveImport: (fromFile: string, specifier: string) => string): SymbolIndex {
  const definitions: SymbolDefinition[] = [];
  const byKey = new Map<string, SymbolDefinition>();
  const occurrences: SymbolOccurrence[] = [];
  const define = (kind: SymbolKind, name: ast.Identifier, span: Span, container: string | undefined, standardLibrary: boolean, key = keyOf(kind, name.name, container)): SymbolDefinition | undefined => {
    if (name.name === '') return undefined;
    const existing = byKey.get(key);
    if (existing !== undefined) {
      // A second declaration of the same name (reported by the checker): its name still refers to the first.
      occurrences.push({ symbol: existing, span: name.span, isDefinition: false });
      return existing;
    }
    const symbol: SymbolDefinition = { key, kind, name: name.name, nameSpan: name.span, span, ...(container === undefined ? {} : { container }), standardLibrary };
    definitions.push(symbol);
    byKey.set(key, symbol);
    occurrences.push({ symbol, span: name.span, isDefinition: true });
    return symbol;
  };
  // Uses are resolved once every declaration is known (a pipeline may come before its model).
  const uses: { readonly key: string; readonly span: Span }[] = [];
  const use = (kind: SymbolKind, name: ast.Identifier | undefined, container?: string, lookup = name?.name) => {
    if (name === undefined || name.name === '' || lookup === undefined) return;
    uses.push({ key: keyOf(kind, lookup, container), span: name.span });
  };
  const useLayer = (name: ast.Identifier, model: string) => {
    if (name.name !== '') uses.push({ key: layerKey(model, undefined, name.name), span: name.span });
  };

  // The user's files first, so their declarations win over the standard library's (as the checker decides).
  const ordered = [...documents.filter((d) => !d.isStandardLibrary), ...documents.filter((d) => d.isStandardLibrary)];
  const topLevel = new Map<string, ast.Declaration>();
  for (const { document, isStandardLibrary } of ordered) {
    for (const declaration of document.declarations) {
      const kind = DECLARATION_KINDS[declaration.kind];
      const name = kind === 'schedule' ? normaliseScheduleName(declaration.name.name) : declaration.name.name;
      const symbol = define(kind, declaration.name, declaration.span, undefined, isStandardLibrary, keyOf(kind, name));
      if (symbol !== undefined && !topLevel.has(symbol.key)) topLevel.set(symbol.key, declaration);
    }
  }

  for (const { file, document, isStandardLibrary } of ordered) {
    for (const declaration of document.imports) {
      const specifier = declaration.path.value;
      if (specifier === '') continue;
      const target = resolveImport(file, specifier);
      const key = keyOf('file', target);
      let symbol = byKey.get(key);
      if (symbol === undefined) {
        const start: Span = { file: target, start: 0, end: 0 };
        symbol = { key, kind: 'file', name: target, nameSpan: start, span: start, standardLibrary: target.startsWith('std:') };
        definitions.push(symbol);
        byKey.set(key, symbol);
      }
      occurrences.push({ symbol, span: declaration.path.span, isDefinition: false });
    }
    for (const declaration of document.declarations) {
      const own = keyOf(DECLARATION_KINDS[declaration.kind], declaration.kind === 'ScheduleDeclaration' ? normaliseScheduleName(declaration.name.name) : declaration.name.name);
      // Only the declaration that owns the name indexes its members (a duplicate's members would shadow them).
      if (topLevel.get(own) !== declaration) continue;
      switch (declaration.kind) {
        case 'ModelDeclaration':
          indexModel(declaration, own);
          break;
        case 'ClusterDeclaration':
          for (const member of declaration.members) {
            if (member.kind === 'DeviceDeclaration') define('device', member.name, member.span, own, isStandardLibrary);
            else for (const reference of [member.from, member.to]) use('device', reference.base, own);
          }
          break;
        case 'PipelineDeclaration':
          indexPipeline(declaration, own);
          break;
        case 'ScheduleDeclaration':
          indexSchedule(declaration, own, isStandardLibrary);
          break;
        case 'ExternLayerDeclaration':
          break;
      }
    }
  }

  function indexModel(model: ast.ModelDeclaration, own: string): void {
    const dims = new Set<string>();
    const layerUses: ast.Identifier[] = [];
    const members = (list: readonly ast.ModelMember[], residual: string | undefined, variables: ReadonlySet<string>) => {
      for (const member of list) {
        switch (member.kind) {
          case 'DimDeclaration':
            define('dim', member.name, member.span, own, false);
            dims.add(member.name.name);
            if (member.value !== undefined) names(member.value, variables);
            break;
          case 'TensorDeclaration':
            define('tensor', member.name, member.span, own, false);
            for (const dim of member.type.dims) names(dim, variables);
            break;
          case 'LayerDeclaration': {
            define('layer', member.name.base, member.span, own, false, layerKey(own, residual, member.name.base.name));
            use('externLayer', member.operator);
            for (const argument of member.args) names(argument.value, variables);
            // A merge's `skip` (its first positional argument too) names a layer of its own level.
            const skip = MERGE_OPERATORS.has(member.operator.name)
              ? member.args.find((argument) => argument.name?.name === 'skip') ?? member.args.find((argument) => argument.name === undefined)
              : undefined;
            if (skip?.value.kind === 'NameExpression' && skip.value.name.name !== '') uses.push({ key: layerKey(own, residual, skip.value.name.name), span: skip.value.name.span });
            if (member.name.index !== undefined) names(member.name.index, variables);
            break;
          }
          case 'ResidualBlock':
            define('layer', member.name.base, member.span, own, false, layerKey(own, residual, member.name.base.name));
            if (member.name.index !== undefined) names(member.name.index, variables);
            members(member.body, residual === undefined ? member.name.base.name : `${residual}.${member.name.base.name}`, variables);
            break;
          case 'RepeatBlock':
            names(member.range, variables);
            members(member.body, residual, new Set([...variables, member.variable.name]));
            break;
          case 'LossDeclaration': {
            const [output, target] = member.args;
            if (output?.value.kind === 'NameExpression') layerUses.push(output.value.name);
            if (target?.value.kind === 'NameExpression') use('tensor', target.value.name, own);
            break;
          }
        }
      }
    };
    // Dim names in shapes and arguments (a repeat's variable is not a dim).
    const nameUses: ast.Identifier[] = [];
    const names = (expression: ast.Node, variables: ReadonlySet<string>) => {
      visit(expression, {
        enter(node) {
          if (node.kind === 'NameExpression' && !variables.has(node.name.name)) nameUses.push(node.name);
        },
      });
    };
    members(model.members, undefined, new Set());
    for (const name of nameUses) if (dims.has(name.name)) use('dim', name, own);
    for (const name of layerUses) useLayer(name, own);
  }

  function indexPipeline(pipeline: ast.PipelineDeclaration, own: string): void {
    let model: string | undefined;
    let cluster: string | undefined;
    for (const member of pipeline.members) {
      if (member.kind !== 'PipelineSetting' || member.value.kind !== 'NameExpression') continue;
      const target = Object.hasOwn(SETTING_TARGETS, member.key.name) ? SETTING_TARGETS[member.key.name] : undefined;
      if (target === undefined) continue;
      use(target, member.value.name);
      if (target === 'model') model ??= keyOf('model', member.value.name.name);
      else cluster ??= keyOf('cluster', member.value.name.name);
    }
    for (const member of pipeline.members) {
      switch (member.kind) {
        case 'PipelineSetting':
          // `vocab_parallel head` names a layer of the pipeline's model.
          if (member.key.name === 'vocab_parallel' && member.value.kind === 'NameExpression' && model !== undefined) useLayer(member.value.name, model);
          break;
        case 'StagesBlock':
          for (const stage of member.stages) {
            define('stage', stage.name, stage.span, own, false);
            if (stage.device !== undefined && cluster !== undefined) use('device', stage.device.base, cluster);
            if (model !== undefined) for (const layer of stage.layers) useLayer(layer.base, model);
          }
          break;
        case 'StageAttribute':
          for (const stage of member.stages) use('stage', stage, own);
          break;
        case 'ScheduleUse':
          use('schedule', member.name, undefined, normaliseScheduleName(member.name.name));
          // `auto(memory: 1.2 * activations(1f1b))` names a schedule inside its argument.
          for (const argument of member.args) {
            visit(argument.value, {
              enter(node) {
                if (node.kind === 'CallExpression' && node.callee.name === 'activations') {
                  for (const inner of node.args) if (inner.value.kind === 'NameExpression') use('schedule', inner.value.name, undefined, normaliseScheduleName(inner.value.name.name));
                }
              },
            });
          }
          break;
        default:
          break;
      }
    }
  }

  function indexSchedule(schedule: ast.ScheduleDeclaration, own: string, standardLibrary: boolean): void {
    const locals = new Set<string>();
    for (const parameter of schedule.params) {
      if (define('parameter', parameter.name, parameter.span, own, standardLibrary) !== undefined) locals.add(parameter.name.name);
    }
    // `let` names are schedule-wide: the evaluator binds each before its uses.
    visit(schedule, {
      enter(node) {
        if (node.kind === 'LetStatement' && define('parameter', node.name, node.span, own, standardLibrary) !== undefined) locals.add(node.name.name);
      },
    });
    visit(schedule, {
      enter(node) {
        if (node.kind === 'NameExpression' && locals.has(node.name.name)) use('parameter', node.name, own);
      },
    });
  }

  for (const { key, span } of uses) {
    const symbol = byKey.get(key);
    if (symbol !== undefined) occurrences.push({ symbol, span, isDefinition: false });
  }

  const byFile = new Map<string, SymbolOccurrence[]>();
  for (const occurrence of occurrences) {
    const list = byFile.get(occurrence.span.file);
    if (list === undefined) byFile.set(occurrence.span.file, [occurrence]);
    else list.push(occurrence);
  }
  for (const list of byFile.values()) list.sort((a, b) => a.span.start - b.span.start);
  const ofSymbol = new Map<string, SymbolOccurrence[]>();
  for (const occurrence of occurrences) {
    const list = ofSymbol.get(occurrence.symbol.key) ?? [];
    list.push(occurrence);
    ofSymbol.set(occurrence.symbol.key, list);
  }
  for (const list of ofSymbol.values()) list.sort((a, b) => Number(b.isDefinition) - Number(a.isDefinition));

  return {
    definitions,
    occurrences,
    occurrenceAt(file, offset) {
      return byFile.get(file)?.find((occurrence) => occurrence.span.start <= offset && offset <= occurrence.span.end && occurrence.span.end > occurrence.span.start);
    },
    occurrencesOf(symbol) {
      return ofSymbol.get(symbol.key) ?? [];
    },
  };
}

const DECLARATION_KINDS: Readonly<Record<ast.Declaration['kind'], SymbolKind>> = {
  ModelDeclaration: 'model',
  ClusterDeclaration: 'cluster',
  PipelineDeclaration: 'pipeline',
  ScheduleDeclaration: 'schedule',
  ExternLayerDeclaration: 'externLayer',
};

function keyOf(kind: SymbolKind, name: string, container?: string): string {
  return container === undefined ? `${kind}:${name}` : `${container}/${kind}:${name}`;
}

/** A layer by its base name (`hidden` for every `hidden[i]`), inside its residual blocks' names. */
function layerKey(model: string, residual: string | undefined, base: string): string {
  return keyOf('layer', residual === undefined ? base : `${residual}.${base}`, model);
}

