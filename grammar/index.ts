// The front end's public face: `parse` turns a Source into a Document plus
// syntax diagnostics and never throws on any input.

import { EOF, type IRecognitionException, type IToken } from 'chevrotain';
import type { Document } from './ast.ts';
import type { DocumentCstNode } from './cst.d.ts';
import { makeDiagnostic, type Diagnostic, type MessageDefinition } from './diagnostic.ts';
import { BlockComment, pipeLexer, UnterminatedString } from './lexer.ts';
import { syntaxMessages } from './messages.ts';
import { describeToken, pipeParser, ruleDescriptions, type SyntaxErrorArguments } from './parser.ts';
import type { Source, Span } from './source.ts';
import { cstToAst, tokenEnd } from './toAst.ts';

export type * from './ast.ts';
export { syntaxMessages, allSyntaxMessages } from './messages.ts';
export { printDocument, printExpression, type PrintOptions } from './printer.ts';
export { visit, childKeys, childrenOf, type Visitor } from './visit.ts';

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

  const lexed = pipeLexer.tokenize(text);
  for (const error of lexed.errors) {
    const character = text.slice(error.offset, error.offset + Math.max(1, error.length));
    diagnostics.push(
      makeDiagnostic(syntaxMessages.unexpectedCharacter, span(error.offset, error.offset + Math.max(1, error.length)), {
        character,
      }),
    );
  }
  for (const token of lexed.tokens) {
    if (token.tokenType === UnterminatedString) {
      diagnostics.push(
        makeDiagnostic(syntaxMessages.unterminatedString, span(token.startOffset, tokenEnd(token)), {}, {
          hint: 'close it with \'"\' before the end of the line',
        }),
      );
    }
  }
  const comments: IToken[] = lexed.groups.comments ?? [];
  for (const comment of comments) {
    if (comment.tokenType === BlockComment && (comment.image.length < 4 || !comment.image.endsWith('*/'))) {
      diagnostics.push(makeDiagnostic(syntaxMessages.unterminatedComment, span(comment.startOffset, comment.startOffset + 2)));
    }
  }

  pipeParser.input = lexed.tokens;
  const cst = pipeParser.document() as DocumentCstNode;
  for (const error of pipeParser.errors) diagnostics.push(parserDiagnostic(error, file, text, lexed.tokens));

  const built = cstToAst(cst, file, text.length, comments);
  diagnostics.push(...built.diagnostics);
  diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  return { document: built.document, diagnostics };
}

const definitionsByException: Readonly<Record<string, MessageDefinition>> = {
  MismatchedTokenException: syntaxMessages.expectedToken,
  NoViableAltException: syntaxMessages.unexpectedToken,
  // The grammar has no AT_LEAST_ONE, so an early exit cannot happen; worded like any other dead end.
  EarlyExitException: syntaxMessages.unexpectedToken,
  NotAllInputParsedException: syntaxMessages.unexpectedAtTopLevel,
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
  const definitionByName = definitionsByException[error.name] ?? syntaxMessages.unexpectedToken;
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
  const form = args === undefined ? undefined : ruleDescriptions[args.rule]?.form;
  // Whatever chevrotain calls it, a stray token between declarations is one kind of mistake.
  const definition = args?.rule === 'document' ? syntaxMessages.unexpectedAtTopLevel : definitionByName;
  return makeDiagnostic(
    definition,
    { file, start, end },
    args === undefined ? { expected: 'something else', after: '', found: error.message } : { ...args },
    form === undefined ? {} : { hint: `${ruleDescriptions[args!.rule].what} looks like: ${form}` },
  );
}

/** "after 'x'" for the last real token that ends at or before `offset`. */
function afterToken(tokens: readonly IToken[], offset: number): string {
  let lo = 0;
  let hi = tokens.length - 1;
  let found: IToken | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (tokenEnd(tokens[mid]) <= offset) {
      found = tokens[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found === undefined ? '' : ` after ${describeToken(found)}`;
}
