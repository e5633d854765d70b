// The .pipe tokens. Keywords are soft: every keyword is also in the `Name`
// category, so a rule that wants "any name" consumes `Name` and still accepts
// `model`, `schedule`, `auto`, ... in positions such as `model gpt` inside a
// pipeline or `dim: 64` as an argument name. Rules that must not swallow a
// keyword (property keys such as `memory 16GiB`, action letters) consume the
// plain `Identifier` instead.

import './supportedRuntime.ts'; // first: it explains an unsupported runtime before chevrotain fails on it
import { createToken, Lexer, type TokenType } from 'chevrotain';

// ── categories ──────────────────────────────────────────────────────────
export const Name = createToken({ name: 'Name', pattern: Lexer.NA, label: 'a name' });
/**
 * Names that are not keywords. Expressions use these, so a keyword that starts
 * the next member ends the expression before it: `recompute s0 s1 schedule
 * 1f1b` reports a missing value for `s1` instead of reading `schedule` as one.
 */
export const PlainName = createToken({ name: 'PlainName', pattern: Lexer.NA, label: 'a name' });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: Lexer.NA, label: 'a string' });
export const AdditiveOperator = createToken({ name: 'AdditiveOperator', pattern: Lexer.NA, label: "'+' or '-'" });
export const MultiplicativeOperator = createToken({
  name: 'MultiplicativeOperator',
  pattern: Lexer.NA,
  label: "'*', '/' or '%'",
});
export const ComparisonOperator = createToken({
  name: 'ComparisonOperator',
  pattern: Lexer.NA,
  label: "'<', '<=', '>' or '>='",
});
export const EqualityOperator = createToken({ name: 'EqualityOperator', pattern: Lexer.NA, label: "'==' or '!='" });

// ── trivia ──────────────────────────────────────────────────────────────
// A byte-order mark (editors on Windows write one) counts as whitespace.
export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\v\uFEFF]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
/** Also matches an unterminated comment up to the end of the file; parse() reports it. */
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*(?:[^*]|\*(?!\/))*(?:\*\/)?/,
  group: 'comments',
  line_breaks: true,
});

// ── names and literals ──────────────────────────────────────────────────
export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [Name, PlainName],
  label: 'a name',
});

/**
 * A name with letters outside ASCII (`größe`). Names are ASCII, but lexing
 * one whole keeps a single mistake from becoming an unexpected character, a
 * split name and a cascade of parse errors: parse() reports it once (PIPE1012)
 * and the parser reads it as the name it was meant to be.
 */
const nonAsciiName = /[\p{L}\p{M}\p{N}_]*/uy;
export const NonAsciiIdentifier = createToken({
  name: 'NonAsciiIdentifier',
  pattern: {
    exec(text: string, offset: number): RegExpExecArray | null {
      if (!/[\p{L}_]/u.test(text.charAt(offset) || ' ')) return null;
      nonAsciiName.lastIndex = offset;
      const match = nonAsciiName.exec(text);
      return match !== null && /[^\x00-\x7f]/.test(match[0]) ? match : null;
    },
  },
  line_breaks: false,
  categories: [Identifier],
  label: 'a name',
});

const numberPart = String.raw`\d+(?:\.\d+)?(?:[eE][+-]?\d+)?`;
// A unit is glued to its number. Bandwidth (`GB/s`) is tried before bytes.
const unitPart = String.raw`(?:(?:[KMGT]i?)?B(?:\/s)?|[nmu]?s|[GTP]?FLOPS)`;
const notNameChar = String.raw`(?![A-Za-z0-9_])`;

export const QuantityLiteral = createToken({
  name: 'QuantityLiteral',
  pattern: new RegExp(numberPart + unitPart + notNameChar),
  label: 'a quantity',
});
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: new RegExp(numberPart + notNameChar),
  label: 'a number',
});
/** Names that start with digits but contain letters: `1f1b`, `2bw`. */
export const DigitName = createToken({
  name: 'DigitName',
  pattern: /\d+[A-Za-z_][A-Za-z0-9_]*/,
  categories: [Name, PlainName],
  label: 'a name',
});

export const TerminatedString = createToken({
  name: 'TerminatedString',
  pattern: /"(?:[^"\\\n\r]|\\.)*"/,
  categories: [StringLiteral],
  label: 'a string',
});
/** A string that runs into the end of its line; parse() reports it and the parser still sees a string. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\n\r]|\\.)*\\?/,
  categories: [StringLiteral],
  label: 'a string',
});

// ── keywords ────────────────────────────────────────────────────────────
function keyword(word: string, soft = true): TokenType {
  const name = word[0].toUpperCase() + word.slice(1);
  return createToken({
    name,
    pattern: new RegExp(word),
    longer_alt: [Identifier],
    categories: soft ? [Name] : [],
    label: `'${word}'`,
  });
}

export const Model = keyword('model');
export const Cluster = keyword('cluster');
export const Pipeline = keyword('pipeline');
export const Schedule = keyword('schedule');
export const Import = keyword('import');
export const Extern = keyword('extern');
export const Layer = keyword('layer');
export const Input = keyword('input');
export const Target = keyword('target');
export const Dim = keyword('dim');
export const Repeat = keyword('repeat');
export const Residual = keyword('residual');
export const Loss = keyword('loss');
export const Device = keyword('device');
export const Link = keyword('link');
export const Stages = keyword('stages');
export const Placement = keyword('placement');
export const Auto = keyword('auto');
export const Balance = keyword('balance');
export const Recompute = keyword('recompute');
export const Offload = keyword('offload');
export const Frozen = keyword('frozen');
export const On = keyword('on');
export const Let = keyword('let');
export const For = keyword('for');
export const In = keyword('in');
export const If = keyword('if');
export const Else = keyword('else');
export const Overlap = keyword('overlap');
export const Split = keyword('split');
export const Backward = keyword('backward');
export const Limit = keyword('limit');
export const Per = keyword('per');
export const Priority = keyword('priority');
export const Requires = keyword('requires');
export const From = keyword('from');
export const Cost = keyword('cost');
// Booleans are literals, never names.
export const True = keyword('true', false);
export const False = keyword('false', false);

const keywords: readonly TokenType[] = [
  Model, Cluster, Pipeline, Schedule, Import, Extern, Layer, Input, Target, Dim, Repeat, Residual, Loss,
  Device, Link, Stages, Placement, Auto, Balance, Recompute, Offload, Frozen, On, Let, For, In, If, Else, Overlap,
  Split, Backward, Limit, Per, Priority, Requires, From, Cost, True, False,
];

/** Every keyword as written (`model`, `stages`, `true`, ...), for completion and highlighting. */
export const KEYWORD_WORDS: readonly string[] = keywords.map((token) => String(token.PATTERN).slice(1, -1));

// ── punctuation and operators (longest first where they share a prefix) ──
function punctuation(name: string, text: string, categories: TokenType[] = []): TokenType {
  return createToken({
    name,
    pattern: new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')),
    categories,
    label: `'${text}'`,
  });
}

export const BiArrow = punctuation('BiArrow', '<->');
export const Arrow = punctuation('Arrow', '->');
export const DotDot = punctuation('DotDot', '..');
export const LessEqual = punctuation('LessEqual', '<=', [ComparisonOperator]);
export const GreaterEqual = punctuation('GreaterEqual', '>=', [ComparisonOperator]);
export const EqualEqual = punctuation('EqualEqual', '==', [EqualityOperator]);
export const NotEqual = punctuation('NotEqual', '!=', [EqualityOperator]);
export const AndAnd = punctuation('AndAnd', '&&');
export const OrOr = punctuation('OrOr', '||');
export const Less = punctuation('Less', '<', [ComparisonOperator]);
export const Greater = punctuation('Greater', '>', [ComparisonOperator]);
export const Assign = punctuation('Assign', '=');
export const Bang = punctuation('Bang', '!');
export const Plus = punctuation('Plus', '+', [AdditiveOperator]);
export const Minus = punctuation('Minus', '-', [AdditiveOperator]);
export const Star = punctuation('Star', '*', [MultiplicativeOperator]);
export const Slash = punctuation('Slash', '/', [MultiplicativeOperator]);
export const Percent = punctuation('Percent', '%', [MultiplicativeOperator]);
export const LBrace = punctuation('LBrace', '{');
export const RBrace = punctuation('RBrace', '}');
export const LParen = punctuation('LParen', '(');
export const RParen = punctuation('RParen', ')');
export const LBracket = punctuation('LBracket', '[');
export const RBracket = punctuation('RBracket', ']');
export const Comma = punctuation('Comma', ',');
export const Colon = punctuation('Colon', ':');
export const Semicolon = punctuation('Semicolon', ';');

/** Order matters: chevrotain takes the first pattern that matches. */
export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  BiArrow,
  Arrow,
  DotDot,
  LessEqual,
  GreaterEqual,
  EqualEqual,
  NotEqual,
  AndAnd,
  OrOr,
  Less,
  Greater,
  Assign,
  Bang,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Semicolon,
  TerminatedString,
  UnterminatedString,
  QuantityLiteral,
  NumberLiteral,
  DigitName,
  // Before the keywords and Identifier, which would match only its ASCII start (`gr` of `größe`).
  NonAsciiIdentifier,
  // Longer keywords first so `input` is not read as `in` + `put`.
  ...[...keywords].sort((a, b) => String(b.PATTERN).length - String(a.PATTERN).length),
  Identifier,
  Name,
  PlainName,
  StringLiteral,
  AdditiveOperator,
  MultiplicativeOperator,
  ComparisonOperator,
  EqualityOperator,
];

/** The single lexer instance (building one validates every pattern, so it is reused). */
export const pipeLexer = new Lexer([...allTokens], { ensureOptimizations: false, positionTracking: 'onlyOffset' });

/** Keywords that begin a statement in a schedule body; used to stop optional trailing names. */
export const scheduleStatementKeywords: ReadonlySet<TokenType> = new Set([Let, On, Split, Limit, Priority, Recompute, Offload, Requires]);
