// Go to definition, find references, rename and the outline: all read the
// core's symbol index (compiler/symbols.ts) of the analysed document and its
// imports, standard library included.

import {
  ResponseError, ErrorCodes, SymbolKind as LspSymbolKind,
  type DocumentSymbol, type Location, type Range, type TextEdit, type WorkspaceEdit,
} from 'vscode-languageserver';
import { isName, type SymbolDefinition, type SymbolKind, type SymbolOccurrence } from '../compiler/index.ts';
import type { Analysis, Workspace } from './workspace.ts';

export function definitionAt(workspace: Workspace, analysis: Analysis, offset: number): Location | null {
  const occurrence = analysis.index.occurrenceAt(analysis.file, offset);
  if (occurrence === undefined) return null;
  const { nameSpan } = occurrence.symbol;
  return { uri: workspace.uriOf(nameSpan.file), range: workspace.rangeOf(nameSpan, analysis.compilation.sources) };
}

export function referencesAt(workspace: Workspace, analysis: Analysis, offset: number, includeDeclaration: boolean): Location[] {
  const occurrence = analysis.index.occurrenceAt(analysis.file, offset);
  if (occurrence === undefined) return [];
  return analysis.index
    .occurrencesOf(occurrence.symbol)
    .filter((candidate) => includeDeclaration || !candidate.isDefinition)
    .map((candidate) => ({ uri: workspace.uriOf(candidate.span.file), range: workspace.rangeOf(candidate.span, analysis.compilation.sources) }));
}

/** What a rename at `offset` would rename, or why it cannot. */
function renameTarget(analysis: Analysis, offset: number): SymbolOccurrence | ResponseError<void> {
  const occurrence = analysis.index.occurrenceAt(analysis.file, offset);
  if (occurrence === undefined) return new ResponseError(ErrorCodes.InvalidRequest, 'nothing to rename here: put the cursor on a name the program declares');
  if (occurrence.symbol.kind === 'file') return new ResponseError(ErrorCodes.InvalidRequest, 'an import path is renamed by renaming the file');
  if (occurrence.symbol.standardLibrary) return new ResponseError(ErrorCodes.InvalidRequest, `'${occurrence.symbol.name}' is declared by the standard library and cannot be renamed`);
  return occurrence;
}

export function prepareRename(workspace: Workspace, analysis: Analysis, offset: number): { range: Range; placeholder: string } | ResponseError<void> {
  const target = renameTarget(analysis, offset);
  if (target instanceof ResponseError) return target;
  return { range: workspace.rangeOf(target.span, analysis.compilation.sources), placeholder: target.symbol.name };
}

export function rename(workspace: Workspace, analysis: Analysis, offset: number, newName: string): WorkspaceEdit | ResponseError<void> {
  const target = renameTarget(analysis, offset);
  if (target instanceof ResponseError) return target;
  if (!isName(newName)) return new ResponseError(ErrorCodes.InvalidParams, `'${newName}' is not a name: names are letters, digits and '_', and not a keyword`);
  const { symbol } = target;
  // Names share a scope when they are of one kind in one declaration (a residual block's layers are a scope of their own).
  const scope = (definition: SymbolDefinition) => definition.key.slice(0, definition.key.length - definition.name.length);
  const clash = analysis.index.definitions.find((other) => other !== symbol && other.kind === symbol.kind && scope(other) === scope(symbol) && other.name === newName);
  if (clash !== undefined) return new ResponseError(ErrorCodes.InvalidParams, `a ${describeKind(symbol.kind)} named '${newName}' already exists`);
  const changes: Record<string, TextEdit[]> = {};
  for (const occurrence of analysis.index.occurrencesOf(symbol)) {
    const uri = workspace.uriOf(occurrence.span.file);
    (changes[uri] ??= []).push({ range: workspace.rangeOf(occurrence.span, analysis.compilation.sources), newText: newName });
  }
  return { changes };
}

const OUTLINE_KINDS: Readonly<Record<SymbolKind, LspSymbolKind>> = {
  model: LspSymbolKind.Class,
  cluster: LspSymbolKind.Namespace,
  pipeline: LspSymbolKind.Module,
  schedule: LspSymbolKind.Function,
  externLayer: LspSymbolKind.Interface,
  layer: LspSymbolKind.Field,
  dim: LspSymbolKind.Constant,
  tensor: LspSymbolKind.Variable,
  device: LspSymbolKind.EnumMember,
  stage: LspSymbolKind.Property,
  parameter: LspSymbolKind.TypeParameter,
  file: LspSymbolKind.File,
};

export function describeKind(kind: SymbolKind): string {
  return kind === 'externLayer' ? 'extern layer' : kind;
}

/** The analysed file's declarations as a tree: models hold their layers, pipelines their stages. */
export function documentSymbols(workspace: Workspace, analysis: Analysis): DocumentSymbol[] {
  const sources = analysis.compilation.sources;
  const own = analysis.index.definitions.filter((definition) => definition.nameSpan.file === analysis.file && definition.kind !== 'file');
  const nodes = new Map<string, DocumentSymbol>();
  const toSymbol = (definition: SymbolDefinition): DocumentSymbol => ({
    name: definition.name,
    detail: describeKind(definition.kind),
    kind: OUTLINE_KINDS[definition.kind],
    range: workspace.rangeOf(definition.span, sources),
    selectionRange: workspace.rangeOf(definition.nameSpan, sources),
    children: [],
  });
  for (const definition of own) nodes.set(definition.key, toSymbol(definition));
  const roots: DocumentSymbol[] = [];
  for (const definition of own) {
    const node = nodes.get(definition.key)!;
    // Residual blocks' layers (`ffn.norm`) sit under their block.
    const path = definition.kind === 'layer' ? definition.key.slice(definition.key.lastIndexOf('layer:') + 'layer:'.length).split('.') : [];
    const parentKey = path.length > 1 ? `${definition.container}/layer:${path.slice(0, -1).join('.')}` : definition.container;
    const parent = parentKey === undefined ? undefined : nodes.get(parentKey);
    if (parent !== undefined) parent.children!.push(node);
    else roots.push(node);
  }
  return roots;
}
