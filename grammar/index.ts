// The front end's public face: `parse` turns a Source into a Document plus
// syntax diagnostics and never throws on any input.

import './supportedRuntime.ts'; // first: it explains an unsupported runtime before chevrotain fails on it
import { EOF, type IRecognitionException, type IToken, type TokenType } from 'chevrotain';
import type { Document } from './ast.ts';
import type { DocumentCstNode } from './cst.d.ts';
import { makeDiagnostic, type Diagnostic, type MessageDefinition } from './diagnostic.ts';
import {
  AdditiveOperator,
  AndAnd,
  Assign,
  Bang,
  BlockComment,
  Colon,
  Comma,
  ComparisonOperator,
  EqualityOperator,
  KEYWORD_WORDS,
  LBrace,
  LParen,
  LineComment,
  Minus,
  MultiplicativeOperator,
  RBrace,
  RBracket,
  RParen,
  Identifier,
  LBracket,
  Name,
  NonAsciiIdentifier,
  NumberLiteral,
  OrOr,
  pipeLexer,
  PlainName,
  QuantityLiteral,
  StringLiteral,
  UnterminatedString,
} from './lexer.ts';
import { describeToken, pipeParser, ruleDescriptions, type SyntaxErrorArguments } from './parser.ts';
import type { Source, Span } from './source.ts';
import { cstToAst, tokenEnd } from './toAst.ts';
import { diagnosticMessages } from './diagnosticMessages.ts';
import { MAX_NESTING_DEPTH, MAX_PREFIX_OPERATORS, MAX_SOURCE_CHARACTERS, MAX_TOKENS } from './limits.ts';

export type * from './ast.ts';
export { cstTypesSource } from './cstTypes.ts';
export { diagnosticMessages, messagesInRange, type MessageDefinition } from './diagnosticMessages.ts';
export { formatTemplate } from './diagnosticMessages.ts';
export { printDocument, printExpression, type PrintOptions } from './printer.ts';
export { visit, childKeys, childrenOf, type Visitor } from './visit.ts';
export {
  DEFAULT_MAX_ERRORS, renderDiagnostics, sortDiagnostics, summarizeDiagnostics, toJsonDiagnostics,
  type JsonDiagnostic, type JsonLocation, type RenderOptions,
} from './render.ts';

export interface ParseResult {
  readonly document: Document;
  readonly diagnostics: Diagnostic[];
}

export function parse(source: Source): ParseResult {
  const { text, name: file } = source;
  const diagnostics: Diagnostic[] = [];
  const span = (start: number, end: number): Span => {
    const s = Math.max(0, Math.min(start, text.length));
    return { file, start: s, end: Math.max(s, Math.min(end, text.length)) };
  };

  if (text.length > MAX_SOURCE_CHARACTERS) {
    // Refused before lexing: the tokens and the tree of a huge file are what would use the memory.
    const diagnostic = makeDiagnostic(diagnosticMessages.sourceTooLarge, span(MAX_SOURCE_CHARACTERS, MAX_SOURCE_CHARACTERS + 1), {
      size: text.length, limit: MAX_SOURCE_CHARACTERS,
    });
    return { document: emptyDocument(file), diagnostics: [diagnostic] };
  }
  const lexed = pipeLexer.tokenize(text);
  for (const error of lexed.errors) {
    const character = text.slice(error.offset, error.offset + Math.max(1, error.length));
    diagnostics.push(
      makeDiagnostic(diagnosticMessages.unexpectedCharacter, span(error.offset, error.offset + Math.max(1, error.length)), {
        character,
      }),
    );
  }
  for (const token of lexed.tokens) {
    if (token.tokenType === UnterminatedString) {
      diagnostics.push(
        makeDiagnostic(diagnosticMessages.unterminatedString, span(token.startOffset, tokenEnd(token))),
      );
    }
  }
  diagnostics.push(...nonAsciiNames(lexed.tokens, file));
  const comments: IToken[] = lexed.groups.comments ?? [];
  for (const comment of comments) {
    if (comment.tokenType === BlockComment && (comment.image.length < 4 || !comment.image.endsWith('*/'))) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.unterminatedComment, span(comment.startOffset, comment.startOffset + 2)));
    }
  }

  diagnostics.push(...detachedUnits(lexed.tokens, text, file));

  if (lexed.tokens.length > MAX_TOKENS) {
    const first = lexed.tokens[MAX_TOKENS];
    diagnostics.push(makeDiagnostic(diagnosticMessages.tooManyTokens, span(first.startOffset, tokenEnd(first)), { count: lexed.tokens.length, limit: MAX_TOKENS }));
    return { document: emptyDocument(file), diagnostics };
  }
  const tooDeep = excessiveNesting(lexed.tokens, file);
  if (tooDeep !== undefined) {
    // The parser recurses once per level; past the limit it would exhaust the stack.
    diagnostics.push(tooDeep);
    diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
    return { document: emptyDocument(file), diagnostics };
  }
  diagnostics.push(...unrepresentableNumbers(lexed.tokens, file));

  pipeParser.sourceText = text;
  pipeParser.input = lexed.tokens;
  const cst = pipeParser.document() as DocumentCstNode;
  for (const error of pipeParser.errors) diagnostics.push(parserDiagnostic(error, file, text, lexed.tokens));

  const built = cstToAst(cst, file, text.length, comments);
  diagnostics.push(...built.diagnostics);
  diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  return { document: built.document, diagnostics: withoutRepeats(diagnostics, text) };
}

function emptyDocument(file: string): Document {
  return { kind: 'Document', imports: [], declarations: [], comments: [], span: { file, start: 0, end: 0 } };
}

const OPENERS: ReadonlySet<TokenType> = new Set([LParen, LBracket, LBrace]);
const CLOSERS: ReadonlySet<TokenType> = new Set([RParen, RBracket, RBrace]);

/** The first bracket (or prefix operator) past the nesting limits, as a diagnostic at that token. */
function excessiveNesting(tokens: readonly IToken[], file: string): Diagnostic | undefined {
  let depth = 0;
  let prefixRun = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const type = token.tokenType;
    if (OPENERS.has(type)) depth++;
    else if (CLOSERS.has(type)) depth = Math.max(0, depth - 1);
    // A '-' or '!' right after an operator or an opener is a prefix operator.
    const previous = tokens[i - 1]?.tokenType;
    const prefix = (type === Minus || type === Bang) && (previous === undefined || OPENERS.has(previous) || isOperator(previous));
    prefixRun = prefix ? prefixRun + 1 : 0;
    if (depth > MAX_NESTING_DEPTH) {
      return makeDiagnostic(diagnosticMessages.nestedTooDeeply, { file, start: token.startOffset, end: tokenEnd(token) }, {
        what: `'${token.image}' brackets`, depth, limit: MAX_NESTING_DEPTH,
      });
    }
    if (prefixRun > MAX_PREFIX_OPERATORS) {
      return makeDiagnostic(diagnosticMessages.nestedTooDeeply, { file, start: token.startOffset, end: tokenEnd(token) }, {
        what: 'prefix operators', depth: prefixRun, limit: MAX_PREFIX_OPERATORS,
      });
    }
  }
  return undefined;
}

const OPERATOR_CATEGORIES: readonly TokenType[] = [AdditiveOperator, MultiplicativeOperator, ComparisonOperator, EqualityOperator];

function isOperator(type: TokenType): boolean {
  return type === Bang || type === Assign || type === Colon || type === Comma || type === AndAnd || type === OrOr
    || OPERATOR_CATEGORIES.some((category) => (type.CATEGORIES ?? []).includes(category));
}

/** Number literals a double cannot hold: infinite ones, and integers beyond 2^53 that would silently change. */
function unrepresentableNumbers(tokens: readonly IToken[], file: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const token of tokens) {
    if (token.tokenType !== NumberLiteral && token.tokenType !== QuantityLiteral) continue;
    const digits = /^[0-9._]*(?:[eE][+-]?[0-9]+)?/.exec(token.image)?.[0] ?? '';
    const value = Number(digits.replace(/_/g, ''));
    const integerText = /^[0-9_]+$/.test(digits);
    let problem: string | undefined;
    if (!Number.isFinite(value)) problem = 'is too large to represent';
    else if (integerText && !Number.isSafeInteger(value)) problem = `is beyond 2^53 (${Number.MAX_SAFE_INTEGER}), so it cannot be represented exactly`;
    if (problem !== undefined) {
      found.push(makeDiagnostic(diagnosticMessages.numberTooLarge, { file, start: token.startOffset, end: tokenEnd(token) }, { text: digits, problem }));
    }
  }
  return found;
}

const definitionsByException: Readonly<Record<string, MessageDefinition>> = {
  MismatchedTokenException: diagnosticMessages.expectedToken,
  NoViableAltException: diagnosticMessages.unexpectedToken,
  // The grammar has no AT_LEAST_ONE, so an early exit cannot happen; worded like any other dead end.
  EarlyExitException: diagnosticMessages.unexpectedToken,
  NotAllInputParsedException: diagnosticMessages.unexpectedAtTopLevel,
};

function decodeArguments(message: string): SyntaxErrorArguments | undefined {
  try {
    const value: unknown = JSON.parse(message);
    if (typeof value === 'object' && value !== null && 'expected' in value) return value as SyntaxErrorArguments;
  } catch {
    // A message chevrotain built itself (should not happen with our provider); shown as is below.
  }
  return undefined;
}

function parserDiagnostic(error: IRecognitionException, file: string, text: string, tokens: readonly IToken[]): Diagnostic {
  const definitionByName = definitionsByException[error.name] ?? diagnosticMessages.unexpectedToken;
  const token = error.token;
  // At end of file there is no token to underline: point just past the last real token.
  let start: number;
  let end: number;
  if (token === undefined || token.tokenType === EOF || !Number.isFinite(token.startOffset)) {
    const last = tokens[tokens.length - 1];
    start = last === undefined ? text.length : tokenEnd(last);
    end = start;
  } else {
    start = token.startOffset;
    end = tokenEnd(token);
  }
  start = Math.max(0, Math.min(start, text.length));
  end = Math.max(start, Math.min(end, text.length));
  const decoded = decodeArguments(error.message);
  // Chevrotain's idea of the previous token drifts after in-repetition recovery; the token
  // stream says exactly what the user wrote before the offending token.
  const args = decoded === undefined || decoded.after === '' ? decoded : { ...decoded, after: afterToken(tokens, start) };
  // Whatever chevrotain calls it, a stray token between declarations is one kind of mistake.
  const definition = args?.rule === 'document' ? diagnosticMessages.unexpectedAtTopLevel : definitionByName;
  const hint = args === undefined ? undefined : hintFor(args, tokens, start);
  return makeDiagnostic(
    definition,
    { file, start, end },
    args === undefined ? { expected: 'something else', after: '', found: error.message } : { ...args },
    hint === undefined ? {} : { hint },
  );
}

const expressionRules: ReadonlySet<string> = new Set([
  'ifStatement', 'orderBlock', 'expression', 'orExpression', 'andExpression', 'equalityExpression', 'comparisonExpression',
  'additiveExpression', 'multiplicativeExpression', 'unaryExpression', 'primaryExpression',
]);

/** The likeliest fix for common slips, else what the construct looks like. */
function hintFor(args: SyntaxErrorArguments, tokens: readonly IToken[], offset: number): string | undefined {
  if (args.found === "'='" && expressionRules.has(args.rule)) {
    return "compare with '=='; a single '=' only gives a value (let, dim, layer, stage)";
  }
  if (args.rule === 'argumentList') {
    // Two values side by side, `Dense(units 4)`: a missing ':' (or ',').
    const index = tokenIndexBefore(tokens, offset);
    const previous = tokens[index];
    const next = tokens[index + 1];
    if (previous?.tokenType.CATEGORIES?.includes(Name) && next !== undefined && startsValue(next)) {
      return 'arguments are written name: value and separated by commas, e.g. Dense(units: 64, activation: relu)';
    }
  }
  const description = ruleDescriptions[args.rule];
  return description?.form === undefined ? undefined : `${description.what} looks like: ${description.form}`;
}

function startsValue(token: IToken): boolean {
  const type = token.tokenType;
  return type === NumberLiteral || type === QuantityLiteral || type.CATEGORIES?.includes(PlainName) === true || type.CATEGORIES?.includes(StringLiteral) === true;
}

/** Index of the last token that ends at or before `offset` (-1 if none). */
function tokenIndexBefore(tokens: readonly IToken[], offset: number): number {
  let lo = 0;
  let hi = tokens.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (tokenEnd(tokens[mid]) <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** "after 'x'" for the last real token that ends at or before `offset`. */
function afterToken(tokens: readonly IToken[], offset: number): string {
  const found = tokens[tokenIndexBefore(tokens, offset)];
  return found === undefined ? '' : ` after ${describeToken(found)}`;
}

const unitWords: ReadonlySet<string> = new Set([
  ...['B', 'KB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB'].flatMap((unit) => [unit, `${unit}/s`]),
  'ns', 'us', 'ms', 's', 'FLOPS', 'GFLOPS', 'TFLOPS', 'PFLOPS',
]);

/**
 * `16 GiB`: a number, spaces on the same line, then a unit word. The parser
 * would report something confusing a token later, so say what is wrong here.
 * (`3 B[0]` is a number followed by an action, not a unit.)
 */
function detachedUnits(tokens: readonly IToken[], text: string, file: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) {
    const number = tokens[i];
    const unit = tokens[i + 1];
    if (number.tokenType !== NumberLiteral || unit.tokenType !== Identifier) continue;
    const gap = text.slice(tokenEnd(number), unit.startOffset);
    const perSecond = text.startsWith('/s', tokenEnd(unit)) ? '/s' : '';
    if (!/^[ \t]+$/.test(gap) || !unitWords.has(unit.image + perSecond)) continue;
    if (tokens[i + 2]?.tokenType === LBracket) continue;
    found.push(
      makeDiagnostic(
        diagnosticMessages.detachedUnit,
        { file, start: number.startOffset, end: tokenEnd(unit) + perSecond.length },
        { number: number.image, unit: unit.image + perSecond },
      ),
    );
  }
  return found;
}

/** One diagnostic per distinct non-ASCII name, at its first use, pointing at the others. */
function nonAsciiNames(tokens: readonly IToken[], file: string): Diagnostic[] {
  const uses = new Map<string, IToken[]>();
  for (const token of tokens) {
    if (token.tokenType === NonAsciiIdentifier) uses.set(token.image, [...(uses.get(token.image) ?? []), token]);
  }
  return [...uses].map(([name, [first, ...others]]) => {
    const characters = [...new Set(name.replace(/[\x00-\x7f]/g, ''))].map((character) => `'${character}'`).join(', ');
    return makeDiagnostic(diagnosticMessages.nonAsciiName, { file, start: first.startOffset, end: tokenEnd(first) }, { name, characters }, {
      related: others.map((token) => ({ span: { file, start: token.startOffset, end: tokenEnd(token) }, message: 'also used here' })),
    });
  });
}

const parserCodes: ReadonlySet<string> = new Set([
  diagnosticMessages.expectedToken.code,
  diagnosticMessages.unexpectedToken.code,
  diagnosticMessages.unexpectedAtTopLevel.code,
]);

/**
 * Recovery can report one mistake twice at the same place (the first report
 * is the better worded), and after an error inside a block it may come back
 * out at the block's closing `}`, which is then "stray" only because of the
 * first mistake: those echoes are dropped.
 */
function withoutRepeats(diagnostics: readonly Diagnostic[], text: string): Diagnostic[] {
  const kept: Diagnostic[] = [];
  for (const diagnostic of diagnostics) {
    const previous = kept[kept.length - 1];
    const isParserError = parserCodes.has(diagnostic.code);
    if (isParserError && previous !== undefined && parserCodes.has(previous.code) && previous.span.start === diagnostic.span.start) continue;
    const strayBrace = diagnostic.code === diagnosticMessages.unexpectedAtTopLevel.code && text.startsWith('}', diagnostic.span.start);
    if (strayBrace && kept.some((d) => d.severity === 'error')) continue;
    kept.push(diagnostic);
  }
  return kept;
}

/** The grammar's productions, serialised (for chevrotain's syntax diagrams). */
export function grammarProductions() {
  return pipeParser.getSerializedGastProductions();
}

export { KEYWORD_WORDS } from './lexer.ts';

/** What a token is, for colouring: the lexer's view, before any name is resolved. */
export type LexicalClass = 'keyword' | 'name' | 'number' | 'string' | 'comment' | 'operator';

export interface LexicalToken {
  readonly class: LexicalClass;
  readonly start: number;
  readonly end: number;
}

const keywordTypes: ReadonlySet<TokenType> = new Set(KEYWORD_WORDS.map((word) => pipeLexer.tokenize(word).tokens[0].tokenType));

/** The tokens of a text, comments included, in order. Never throws; unlexable characters are left out. */
export function lexicalTokens(text: string): LexicalToken[] {
  const lexed = pipeLexer.tokenize(text);
  const classify = (token: IToken): LexicalClass => {
    const type = token.tokenType;
    if (type === LineComment || type === BlockComment) return 'comment';
    if (keywordTypes.has(type)) return 'keyword';
    if (type === NumberLiteral || type === QuantityLiteral) return 'number';
    if (type.CATEGORIES?.includes(StringLiteral) === true) return 'string';
    if (type.CATEGORIES?.includes(Name) === true || type === Identifier || type === NonAsciiIdentifier) return 'name';
    return 'operator';
  };
  return [...lexed.tokens, ...(lexed.groups.comments ?? [])]
    .map((token) => ({ class: classify(token), start: token.startOffset, end: tokenEnd(token) }))
    .sort((a, b) => a.start - b.start);
}

/** Whether `text` is one name the language accepts where a model, layer, stage, device or schedule is named (what a rename may write). */
export function isName(text: string): boolean {
  const lexed = pipeLexer.tokenize(text);
  if (lexed.errors.length > 0 || lexed.tokens.length !== 1) return false;
  const [token] = lexed.tokens;
  return token.image === text && token.tokenType !== NonAsciiIdentifier && (token.tokenType === Identifier || token.tokenType.CATEGORIES?.includes(Name) === true) && !keywordTypes.has(token.tokenType);
}
