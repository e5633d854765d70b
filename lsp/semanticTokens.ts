// Semantic tokens (full document): names coloured by what they name, from
// the symbol index (a stage, a device, a layer, a schedule), layer kinds and
// dtypes from the catalogs, and the lexer's keywords, numbers, strings and
// comments beneath them.

import { SemanticTokensBuilder, type SemanticTokens, type SemanticTokensLegend } from 'vscode-languageserver';
import { compiledDocument, describeBuiltinKind, DTYPES, lexicalTokens, visit, type LexicalClass, type SymbolKind } from '../compiler/index.ts';
import type { Analysis, Workspace } from './workspace.ts';

const TOKEN_TYPES = [
  'namespace', 'class', 'function', 'variable', 'parameter', 'property', 'enumMember', 'type', 'typeParameter',
  'interface', 'keyword', 'number', 'string', 'comment', 'operator',
] as const;
type TokenType = (typeof TOKEN_TYPES)[number];
const TOKEN_MODIFIERS = ['declaration', 'defaultLibrary'] as const;

export const SEMANTIC_TOKENS_LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

const SYMBOL_TYPES: Readonly<Record<SymbolKind, TokenType | undefined>> = {
  model: 'namespace', cluster: 'namespace', pipeline: 'namespace', schedule: 'function', externLayer: 'interface',
  layer: 'variable', dim: 'typeParameter', tensor: 'variable', device: 'enumMember', stage: 'property', parameter: 'parameter',
  // An import's path stays a string.
  file: undefined,
};

const LEXICAL_TYPES: Readonly<Record<LexicalClass, TokenType | undefined>> = {
  keyword: 'keyword', number: 'number', string: 'string', comment: 'comment', operator: undefined, name: undefined,
};

interface Token {
  readonly start: number;
  readonly end: number;
  readonly type: TokenType;
  readonly modifiers: number;
}

export function semanticTokens(workspace: Workspace, analysis: Analysis): SemanticTokens {
  const { text, file } = analysis;
  const tokens = new Map<number, Token>();
  for (const token of lexicalTokens(text)) {
    const type = LEXICAL_TYPES[token.class];
    if (type !== undefined) tokens.set(token.start, { start: token.start, end: token.end, type, modifiers: 0 });
  }
  const document = compiledDocument(analysis.compilation);
  if (document !== undefined) {
    visit(document, {
      enter(node) {
        if (node.kind === 'LayerDeclaration' && describeBuiltinKind(node.operator.name) !== undefined) {
          tokens.set(node.operator.span.start, { start: node.operator.span.start, end: node.operator.span.end, type: 'class', modifiers: 2 });
        } else if (node.kind === 'TensorType' && (DTYPES as readonly string[]).includes(node.dtype.name)) {
          tokens.set(node.dtype.span.start, { start: node.dtype.span.start, end: node.dtype.span.end, type: 'type', modifiers: 2 });
        }
      },
    });
  }
  for (const occurrence of analysis.index.occurrences) {
    const type = SYMBOL_TYPES[occurrence.symbol.kind];
    if (type === undefined || occurrence.span.file !== file || occurrence.span.end <= occurrence.span.start) continue;
    const modifiers = (occurrence.isDefinition ? 1 : 0) | (occurrence.symbol.standardLibrary ? 2 : 0);
    tokens.set(occurrence.span.start, { start: occurrence.span.start, end: occurrence.span.end, type, modifiers });
  }
  const builder = new SemanticTokensBuilder();
  let previousEnd = 0;
  for (const token of [...tokens.values()].sort((a, b) => a.start - b.start)) {
    if (token.start < previousEnd) continue;
    previousEnd = token.end;
    // A token may not span lines (block comments): one per line.
    let start = token.start;
    while (start < token.end) {
      const newline = text.indexOf('\n', start);
      const end = newline < 0 || newline >= token.end ? token.end : newline;
      if (end > start) {
        const position = workspace.positionOf(file, start);
        builder.push(position.line, position.character, end - start, TOKEN_TYPES.indexOf(token.type), token.modifiers);
      }
      start = end + 1;
    }
  }
  return builder.build();
}
