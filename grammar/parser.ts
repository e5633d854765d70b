// The .pipe grammar as a chevrotain CstParser. Recovery is on, so one parse
// reports many errors and still yields a (partial) CST for every construct
// it got into; grammar/toAst.ts turns that into the AST.
//
// Newlines are not significant. Every statement starts with a keyword, a name
// or an action letter and `;` is an optional separator, so a statement ends
// where the next token cannot continue it: no statement starts with an
// operator or `(`, so `x` followed on the next line by `- 1` is `x - 1`.

import './supportedRuntime.ts'; // first: it explains an unsupported runtime before chevrotain fails on it
import { CstParser, EOF, tokenMatcher, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import * as t from './lexer.ts';

/** What each rule is, in words, and the shape it expects; used in error messages and hints. */
export const ruleDescriptions: Readonly<Record<string, { readonly what: string; readonly form?: string }>> = {
  document: { what: 'a declaration (import, model, cluster, pipeline, schedule or extern layer)' },
  importDeclaration: { what: 'an import', form: 'import "./file.pipe"' },
  modelDeclaration: { what: 'a model', form: 'model NAME { dim ... input ... layer ... loss ... }' },
  modelMember: { what: 'a model member (dim, input, target, layer, repeat, residual or loss)' },
  dimDeclaration: { what: 'a dim declaration', form: 'dim NAME or dim NAME = 128' },
  tensorDeclaration: { what: 'a tensor declaration', form: 'input NAME: f32[batch, 784]' },
  tensorType: { what: 'a tensor type', form: 'f32[batch, 784]' },
  layerDeclaration: { what: 'a layer declaration', form: 'layer NAME = Operator(arg: value, ...)' },
  layerName: { what: 'a layer name', form: 'NAME or NAME[i]' },
  repeatBlock: { what: 'a repeat block', form: 'repeat i in 0..N { ... }' },
  residualBlock: { what: 'a residual block', form: 'residual NAME { layer ... }' },
  lossDeclaration: { what: 'a loss', form: 'loss softmax_cross_entropy(lastLayer, target)' },
  externLayerDeclaration: {
    what: 'an extern layer',
    form: 'extern layer NAME(param: type) : [in dims] -> [out dims] from "./file.ts"',
  },
  typedParameter: { what: 'a parameter', form: 'NAME: type or NAME: type = default' },
  clusterDeclaration: { what: 'a cluster', form: 'cluster NAME { device ... link ... }' },
  clusterMember: { what: 'a cluster member (device or link)' },
  deviceDeclaration: { what: 'a device declaration', form: 'device gpu[0..4] memory 16GiB speed 100TFLOPS' },
  linkDeclaration: { what: 'a link declaration', form: 'link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us' },
  property: { what: 'a property', form: 'NAME value, e.g. memory 16GiB' },
  deviceReference: { what: 'a device', form: 'gpu[0], gpu[0..4], gpu[*] or host' },
  pipelineDeclaration: { what: 'a pipeline', form: 'pipeline NAME { model M cluster C batch 64 ... }' },
  pipelineMember: { what: 'a pipeline member (a setting such as batch 64, stages, schedule, recompute or offload)' },
  pipelineSetting: { what: 'a pipeline setting', form: 'NAME value, e.g. batch 64' },
  stagesMember: {
    what: 'a stages declaration',
    form: 'stages { s0 on gpu[0] = a, b ... }, stages placement v { ... } or stages auto(8)',
  },
  stageDeclaration: { what: 'a stage', form: 'NAME on gpu[0] = layer, layer[0..2]' },
  layerReference: { what: 'a layer reference', form: 'NAME, NAME[2] or NAME[0..2]' },
  scheduleUse: { what: 'a schedule choice', form: 'schedule 1f1b or schedule interleaved_1f1b(v: 2)' },
  stageAttribute: { what: 'a stage attribute', form: 'recompute s0, s1, offload s2 or frozen s0' },
  scheduleDeclaration: { what: 'a schedule declaration', form: 'schedule NAME(p, m) { ... }' },
  scheduleParameter: { what: 'a schedule parameter', form: 'NAME or NAME = default' },
  scheduleStatement: {
    what: 'a schedule statement (let, on device, split backward, limit, priority, recompute, offload or requires)',
  },
  letStatement: { what: 'a let statement', form: 'let NAME = expression' },
  onDeviceBlock: { what: 'an on-device block', form: 'on device d { F[0] B[0] ... }' },
  orderBlock: { what: 'a block of actions' },
  orderStatement: { what: 'an order statement (let, for, if, overlap or an action such as F[i])' },
  actionStatement: { what: 'an action', form: 'F[i], B[0..w] or I[i, chunk]' },
  forStatement: { what: 'a for loop', form: 'for i in 0..m { ... }' },
  ifStatement: { what: 'an if statement', form: 'if condition { ... } else { ... }' },
  overlapStatement: { what: 'an overlap block', form: 'overlap { F[i, 0] B[j, 1] }' },
  splitBackwardRule: { what: 'a split backward rule', form: 'split backward' },
  limitRule: { what: 'a limit rule', form: 'limit activations <= 2 * p' },
  priorityRule: { what: 'a priority rule', form: 'priority I > F > W' },
  memoryRule: { what: 'a memory rule', form: 'recompute when live > 2, offload ratio 0.5 or offload when live > p' },
  priorityTerm: { what: 'a priority term', form: 'F, B, I or W, optionally with a chunk: F[1]' },
  requiresRule: { what: 'a requires rule', form: 'requires placement v, requires split backward or requires m >= 2 * p "needs at least 2p microbatches"' },
  argumentList: { what: 'an argument list', form: '(name: value, ...)' },
  argument: { what: 'an argument', form: 'name: value or value' },
  rangeExpression: { what: 'a range', form: 'from..to, e.g. 0..4' },
  expressionList: { what: 'a list of expressions' },
  expression: { what: 'an expression' },
  orExpression: { what: 'an expression' },
  andExpression: { what: 'an expression' },
  equalityExpression: { what: 'an expression' },
  comparisonExpression: { what: 'an expression' },
  additiveExpression: { what: 'an expression' },
  multiplicativeExpression: { what: 'an expression' },
  unaryExpression: { what: 'an expression' },
  primaryExpression: { what: 'an expression' },
};

/** Words for a token type in messages: `'='`, `a name`, `end of file`. */
export function describeTokenType(tokenType: TokenType): string {
  if (tokenType === EOF) return 'end of file';
  return tokenType.LABEL ?? tokenType.name;
}

/** Words for a token the user wrote. */
export function describeToken(token: IToken): string {
  if (token.tokenType === EOF) return 'end of file';
  if (token.image === '') return describeTokenType(token.tokenType);
  const image = token.image.length > 24 ? `${token.image.slice(0, 24)}…` : token.image;
  return `'${image.replace(/\n[\s\S]*/, '…')}'`;
}

function uniqueJoin(words: readonly string[]): string {
  const unique = [...new Set(words)];
  if (unique.length <= 1) return unique[0] ?? 'something else';
  return `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

/**
 * Chevrotain asks for a message string; we hand it a JSON record of the
 * message arguments so grammar/index.ts can build the diagnostic from the
 * diagnostics table (grammar/diagnosticMessages.ts) instead of re-parsing prose.
 */
export interface SyntaxErrorArguments {
  readonly expected: string;
  readonly found: string;
  readonly after: string;
  readonly rule: string;
}

function encode(args: SyntaxErrorArguments): string {
  return JSON.stringify(args);
}

function afterText(previous: IToken | undefined): string {
  if (previous === undefined || previous.tokenType === EOF || Number.isNaN(previous.startOffset)) return '';
  return ` after ${describeToken(previous)}`;
}

const errorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
    // The top-level rule ends by expecting end of file: say what could have come instead.
    if (expected === EOF) {
      return encode({ expected: ruleDescriptions.document.what, found: describeToken(actual), after: '', rule: 'document' });
    }
    let expectedWords = describeTokenType(expected);
    // A block that stopped early usually means a member the user mistyped.
    if (expected === t.RBrace) {
      const member = blockMembers[ruleName];
      if (member !== undefined) expectedWords = `${ruleDescriptions[member].what} or '}'`;
    }
    return encode({ expected: expectedWords, found: describeToken(actual), after: afterText(previous), rule: ruleName });
  },
  buildNotAllInputParsedMessage({ firstRedundant, ruleName }) {
    return encode({ expected: ruleDescriptions.document.what, found: describeToken(firstRedundant), after: '', rule: ruleName });
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, previous, ruleName }) {
    const description = ruleDescriptions[ruleName]?.what;
    const firsts = expectedPathsPerAlt.flatMap((paths) => paths.map((path) => describeTokenType(path[0] ?? EOF)));
    const expected = description !== undefined && firsts.length > 3 ? description : uniqueJoin(firsts);
    return encode({ expected, found: describeToken(actual[0]), after: afterText(previous), rule: ruleName });
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, previous, ruleName }) {
    const expected = uniqueJoin(expectedIterationPaths.map((path) => describeTokenType(path[0] ?? EOF)));
    return encode({ expected, found: describeToken(actual[0]), after: afterText(previous), rule: ruleName });
  },
};

/** Which member rule a block rule repeats, for "expected a model member or '}'" messages. */
const blockMembers: Readonly<Record<string, string>> = {
  modelDeclaration: 'modelMember',
  repeatBlock: 'modelMember',
  residualBlock: 'modelMember',
  clusterDeclaration: 'clusterMember',
  pipelineDeclaration: 'pipelineMember',
  stagesMember: 'stageDeclaration',
  scheduleDeclaration: 'scheduleStatement',
  orderBlock: 'orderStatement',
  overlapStatement: 'actionStatement',
};

export class PipeParser extends CstParser {
  /** The text being parsed (set with `input`): error recovery may look at line breaks. */
  sourceText = '';

  constructor() {
    super([...t.allTokens], {
      recoveryEnabled: true,
      nodeLocationTracking: 'onlyOffset',
      maxLookahead: 3,
      errorMessageProvider,
    });
    this.performSelfAnalysis();
  }

  // ── documents ──────────────────────────────────────────────────────────
  document = this.RULE('document', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.importDeclaration) },
        { ALT: () => this.SUBRULE(this.modelDeclaration) },
        { ALT: () => this.SUBRULE(this.clusterDeclaration) },
        { ALT: () => this.SUBRULE(this.pipelineDeclaration) },
        { ALT: () => this.SUBRULE(this.scheduleDeclaration) },
        { ALT: () => this.SUBRULE(this.externLayerDeclaration) },
        { ALT: () => this.CONSUME(t.Semicolon) },
      ]);
    });
  });

  importDeclaration = this.RULE('importDeclaration', () => {
    this.CONSUME(t.Import);
    this.CONSUME(t.StringLiteral, { LABEL: 'path' });
  });

  // ── model ─────────────────────────────────────────────────────────────
  modelDeclaration = this.RULE('modelDeclaration', () => {
    this.CONSUME(t.Model);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.modelMember) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  modelMember = this.RULE('modelMember', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.dimDeclaration) },
      { ALT: () => this.SUBRULE(this.tensorDeclaration) },
      { ALT: () => this.SUBRULE(this.layerDeclaration) },
      { ALT: () => this.SUBRULE(this.repeatBlock) },
      { ALT: () => this.SUBRULE(this.residualBlock) },
      { ALT: () => this.SUBRULE(this.lossDeclaration) },
    ]);
  });

  dimDeclaration = this.RULE('dimDeclaration', () => {
    this.CONSUME(t.Dim);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(t.Assign);
      this.SUBRULE(this.expression, { LABEL: 'value' });
    });
  });

  tensorDeclaration = this.RULE('tensorDeclaration', () => {
    this.OR([{ ALT: () => this.CONSUME(t.Input) }, { ALT: () => this.CONSUME(t.Target) }]);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.Colon);
    this.SUBRULE(this.tensorType);
  });

  tensorType = this.RULE('tensorType', () => {
    this.CONSUME(t.Name, { LABEL: 'dtype' });
    this.CONSUME(t.LBracket);
    this.SUBRULE(this.expressionList);
    this.CONSUME(t.RBracket);
  });

  layerDeclaration = this.RULE('layerDeclaration', () => {
    this.OPTION(() => this.CONSUME(t.Frozen));
    this.CONSUME(t.Layer);
    this.SUBRULE(this.layerName);
    this.CONSUME(t.Assign);
    this.CONSUME(t.Name, { LABEL: 'operator' });
    this.OPTION2(() => this.SUBRULE(this.argumentList));
  });

  layerName = this.RULE('layerName', () => {
    this.CONSUME(t.Name, { LABEL: 'base' });
    this.OPTION(() => {
      this.CONSUME(t.LBracket);
      this.SUBRULE(this.expression, { LABEL: 'index' });
      this.CONSUME(t.RBracket);
    });
  });

  repeatBlock = this.RULE('repeatBlock', () => {
    this.CONSUME(t.Repeat);
    this.CONSUME(t.Name, { LABEL: 'variable' });
    this.CONSUME(t.In);
    this.SUBRULE(this.rangeExpression);
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.modelMember) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  residualBlock = this.RULE('residualBlock', () => {
    this.CONSUME(t.Residual);
    this.SUBRULE(this.layerName);
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.modelMember) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  lossDeclaration = this.RULE('lossDeclaration', () => {
    this.CONSUME(t.Loss);
    this.CONSUME(t.Name, { LABEL: 'function' });
    this.SUBRULE(this.argumentList);
  });

  externLayerDeclaration = this.RULE('externLayerDeclaration', () => {
    this.CONSUME(t.Extern);
    this.CONSUME(t.Layer);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.typedParameter);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.typedParameter);
      });
    });
    this.CONSUME(t.RParen);
    this.CONSUME(t.Colon);
    this.CONSUME(t.LBracket);
    this.SUBRULE(this.expressionList, { LABEL: 'inputDims' });
    this.CONSUME(t.RBracket);
    this.CONSUME(t.Arrow);
    this.CONSUME2(t.LBracket);
    this.SUBRULE2(this.expressionList, { LABEL: 'outputDims' });
    this.CONSUME2(t.RBracket);
    this.CONSUME(t.From);
    this.CONSUME(t.StringLiteral, { LABEL: 'path' });
    // What the implementation costs, for the simulator, partitioner and memory check:
    // `cost(parameters: 3 * d * hidden, flops: 6 * d * hidden)`.
    this.OPTION2(() => {
      this.CONSUME(t.Cost);
      this.SUBRULE(this.argumentList, { LABEL: 'cost' });
    });
  });

  typedParameter = this.RULE('typedParameter', () => {
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.Colon);
    this.CONSUME2(t.Name, { LABEL: 'type' });
    this.OPTION(() => {
      this.CONSUME(t.Assign);
      this.SUBRULE(this.expression, { LABEL: 'default' });
    });
  });

  // ── cluster ───────────────────────────────────────────────────────────
  clusterDeclaration = this.RULE('clusterDeclaration', () => {
    this.CONSUME(t.Cluster);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.clusterMember) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  clusterMember = this.RULE('clusterMember', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.deviceDeclaration) },
      { ALT: () => this.SUBRULE(this.linkDeclaration) },
    ]);
  });

  deviceDeclaration = this.RULE('deviceDeclaration', () => {
    this.CONSUME(t.Device);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(t.LBracket);
      this.SUBRULE(this.rangeExpression);
      this.CONSUME(t.RBracket);
    });
    this.MANY(() => this.SUBRULE(this.property));
  });

  linkDeclaration = this.RULE('linkDeclaration', () => {
    this.CONSUME(t.Link);
    this.SUBRULE(this.deviceReference, { LABEL: 'from' });
    this.OR([{ ALT: () => this.CONSUME(t.BiArrow) }, { ALT: () => this.CONSUME(t.Arrow) }]);
    this.SUBRULE2(this.deviceReference, { LABEL: 'to' });
    this.MANY(() => this.SUBRULE(this.property));
  });

  /** Keys are plain identifiers so that `device`/`link` always start the next member. */
  property = this.RULE('property', () => {
    this.CONSUME(t.Identifier, { LABEL: 'key' });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  deviceReference = this.RULE('deviceReference', () => {
    this.CONSUME(t.Name, { LABEL: 'base' });
    this.OPTION(() => {
      this.CONSUME(t.LBracket);
      this.OR([
        { ALT: () => this.CONSUME(t.Star, { LABEL: 'wildcard' }) },
        {
          ALT: () => {
            this.SUBRULE(this.expression, { LABEL: 'from' });
            this.OPTION2(() => {
              this.CONSUME(t.DotDot);
              this.SUBRULE2(this.expression, { LABEL: 'to' });
            });
          },
        },
      ]);
      this.CONSUME(t.RBracket);
    });
  });

  // ── pipeline ──────────────────────────────────────────────────────────
  pipelineDeclaration = this.RULE('pipelineDeclaration', () => {
    this.CONSUME(t.Pipeline);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.pipelineMember) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  pipelineMember = this.RULE('pipelineMember', () => {
    // The keyword alternatives come first; any other name starts a setting
    // (`model gpt`, `cluster local`, `batch 64`).
    this.OR({
      IGNORE_AMBIGUITIES: true,
      // Decide on the first token alone: a name then always starts a setting, so
      // `s1 schedule 1f1b` fails inside the setting ("expected an expression")
      // and recovery resumes at `schedule` within this pipeline.
      MAX_LOOKAHEAD: 1,
      DEF: [
        { ALT: () => this.SUBRULE(this.stagesMember) },
        { ALT: () => this.SUBRULE(this.scheduleUse) },
        { ALT: () => this.SUBRULE(this.stageAttribute) },
        { ALT: () => this.SUBRULE(this.pipelineSetting) },
      ],
    });
  });

  pipelineSetting = this.RULE('pipelineSetting', () => {
    this.CONSUME(t.Name, { LABEL: 'key' });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  stagesMember = this.RULE('stagesMember', () => {
    this.CONSUME(t.Stages);
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.Auto);
          this.CONSUME(t.LParen);
          this.SUBRULE(this.expression, { LABEL: 'count' });
          this.CONSUME(t.RParen);
          this.OPTION(() => {
            this.CONSUME(t.Balance);
            this.CONSUME(t.Name, { LABEL: 'balance' });
          });
          this.OPTION2(() => {
            this.CONSUME(t.Placement);
            this.CONSUME2(t.Name, { LABEL: 'autoPlacement' });
          });
        },
      },
      {
        ALT: () => {
          this.OPTION3(() => {
            this.CONSUME2(t.Placement);
            this.CONSUME3(t.Name, { LABEL: 'placement' });
          });
          this.CONSUME(t.LBrace);
          this.MANY(() => {
            this.OR2([{ ALT: () => this.SUBRULE(this.stageDeclaration) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
          });
          this.CONSUME(t.RBrace);
        },
      },
    ]);
  });

  stageDeclaration = this.RULE('stageDeclaration', () => {
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(t.On);
      this.SUBRULE(this.deviceReference);
    });
    // `s1 gpu[1] = c`: a device without its `on` (reported when the AST is built).
    this.OPTION2({
      GATE: () => {
        const after = this.LA(2).tokenType;
        return tokenMatcher(this.LA(1), t.PlainName) && (after === t.LBracket || after === t.Assign);
      },
      DEF: () => this.SUBRULE2(this.deviceReference, { LABEL: 'deviceWithoutOn' }),
    });
    this.CONSUME(t.Assign);
    this.SUBRULE(this.layerReference);
    this.MANY({
      GATE: () => this.LA(1).tokenType === t.Comma || this.isUnseparatedLayer(),
      DEF: () => {
        this.OR([
          {
            ALT: () => {
              this.CONSUME(t.Comma);
              this.SUBRULE2(this.layerReference);
            },
          },
          // A missing comma (reported when the AST is built) rather than a cascade of errors.
          { ALT: () => this.SUBRULE3(this.layerReference, { LABEL: 'unseparatedLayer' }) },
        ]);
      },
    });
  });

  /**
   * `s0 on gpu[0] = a b`: a name on the same line right after a layer, that
   * does not start the next stage (`NAME on` / `NAME =`), is a layer whose
   * comma is missing. Only this recovery looks at line breaks.
   */
  private isUnseparatedLayer(): boolean {
    const next = this.LA(1);
    if (!tokenMatcher(next, t.PlainName)) return false;
    const after = this.LA(2).tokenType;
    if (after === t.On || after === t.Assign) return false;
    return this.onLineOfPrevious(next);
  }

  layerReference = this.RULE('layerReference', () => {
    this.CONSUME(t.Name, { LABEL: 'base' });
    this.OPTION(() => {
      this.CONSUME(t.LBracket);
      this.SUBRULE(this.expression, { LABEL: 'from' });
      this.OPTION2(() => {
        this.CONSUME(t.DotDot);
        this.SUBRULE2(this.expression, { LABEL: 'to' });
      });
      this.CONSUME(t.RBracket);
    });
  });

  scheduleUse = this.RULE('scheduleUse', () => {
    this.CONSUME(t.Schedule);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.OPTION(() => this.SUBRULE(this.argumentList));
  });

  stageAttribute = this.RULE('stageAttribute', () => {
    this.OR([{ ALT: () => this.CONSUME(t.Recompute) }, { ALT: () => this.CONSUME(t.Offload) }, { ALT: () => this.CONSUME(t.Frozen) }]);
    this.CONSUME(t.Name, { LABEL: 'stage' });
    this.MANY({
      GATE: () => this.LA(1).tokenType === t.Comma || this.isUnseparatedListName(),
      DEF: () => {
        this.OR2([
          {
            ALT: () => {
              this.CONSUME(t.Comma);
              this.CONSUME2(t.Name, { LABEL: 'stage' });
            },
          },
          // `recompute s0 s1`: a missing comma (reported when the AST is built).
          { ALT: () => this.CONSUME3(t.PlainName, { LABEL: 'unseparatedStage' }) },
        ]);
      },
    });
  });

  /**
   * `recompute s0 s1 s2`: names right after a list item on the same line,
   * up to the end of the line (or of the list: `,`, `;`, `}`), are items
   * whose commas are missing, not the start of the next member.
   */
  private isUnseparatedListName(): boolean {
    for (let k = 1; ; k++) {
      const token = this.LA(k);
      const endsList = token.tokenType === EOF || token.tokenType === t.Comma || token.tokenType === t.Semicolon || token.tokenType === t.RBrace;
      if (k > 1 && (endsList || !this.onLineOfPrevious(token))) return true;
      if (!tokenMatcher(token, t.PlainName) || !this.onLineOfPrevious(token)) return false;
    }
  }

  /** Whether only spaces and tabs separate a token from the one before it. */
  private onLineOfPrevious(token: IToken): boolean {
    for (let i = token.startOffset - 1; i >= 0; i--) {
      const code = this.sourceText.charCodeAt(i);
      if (code === 10) return false;
      if (code !== 32 && code !== 9 && code !== 13) return true;
    }
    return false;
  }

  // ── schedules ─────────────────────────────────────────────────────────
  scheduleDeclaration = this.RULE('scheduleDeclaration', () => {
    this.CONSUME(t.Schedule);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(t.LParen);
      this.OPTION2(() => {
        this.SUBRULE(this.scheduleParameter);
        this.MANY(() => {
          this.CONSUME(t.Comma);
          this.SUBRULE2(this.scheduleParameter);
        });
      });
      this.CONSUME(t.RParen);
    });
    this.CONSUME(t.LBrace);
    this.MANY2(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.scheduleStatement) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  scheduleParameter = this.RULE('scheduleParameter', () => {
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(t.Assign);
      this.SUBRULE(this.expression, { LABEL: 'default' });
    });
  });

  scheduleStatement = this.RULE('scheduleStatement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letStatement) },
      { ALT: () => this.SUBRULE(this.onDeviceBlock) },
      { ALT: () => this.SUBRULE(this.splitBackwardRule) },
      { ALT: () => this.SUBRULE(this.limitRule) },
      { ALT: () => this.SUBRULE(this.priorityRule) },
      { ALT: () => this.SUBRULE(this.memoryRule) },
      { ALT: () => this.SUBRULE(this.requiresRule) },
    ]);
  });

  letStatement = this.RULE('letStatement', () => {
    this.CONSUME(t.Let);
    this.CONSUME(t.Name, { LABEL: 'name' });
    this.CONSUME(t.Assign);
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  onDeviceBlock = this.RULE('onDeviceBlock', () => {
    this.CONSUME(t.On);
    this.CONSUME(t.Device);
    this.CONSUME(t.Name, { LABEL: 'variable' });
    this.SUBRULE(this.orderBlock);
  });

  orderBlock = this.RULE('orderBlock', () => {
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.orderStatement) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  orderStatement = this.RULE('orderStatement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letStatement) },
      { ALT: () => this.SUBRULE(this.forStatement) },
      { ALT: () => this.SUBRULE(this.ifStatement) },
      { ALT: () => this.SUBRULE(this.overlapStatement) },
      { ALT: () => this.SUBRULE(this.actionStatement) },
    ]);
  });

  /** `F[i]`: the operation is a plain identifier (checked to be F, B, I or W when building the AST). */
  actionStatement = this.RULE('actionStatement', () => {
    this.CONSUME(t.Identifier, { LABEL: 'operation' });
    this.CONSUME(t.LBracket);
    this.SUBRULE(this.expression, { LABEL: 'from' });
    this.OPTION(() => {
      this.CONSUME(t.DotDot);
      this.SUBRULE2(this.expression, { LABEL: 'to' });
    });
    this.OPTION2(() => {
      this.CONSUME(t.Comma);
      this.SUBRULE3(this.expression, { LABEL: 'chunk' });
    });
    this.CONSUME(t.RBracket);
  });

  forStatement = this.RULE('forStatement', () => {
    this.CONSUME(t.For);
    this.CONSUME(t.Name, { LABEL: 'variable' });
    this.CONSUME(t.In);
    this.SUBRULE(this.rangeExpression);
    this.SUBRULE(this.orderBlock);
  });

  ifStatement = this.RULE('ifStatement', () => {
    this.CONSUME(t.If);
    this.SUBRULE(this.expression, { LABEL: 'condition' });
    this.SUBRULE(this.orderBlock, { LABEL: 'then' });
    this.OPTION(() => {
      this.CONSUME(t.Else);
      this.OR([
        { ALT: () => this.SUBRULE(this.ifStatement, { LABEL: 'elseIf' }) },
        { ALT: () => this.SUBRULE2(this.orderBlock, { LABEL: 'otherwise' }) },
      ]);
    });
  });

  overlapStatement = this.RULE('overlapStatement', () => {
    this.CONSUME(t.Overlap);
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.actionStatement) }, { ALT: () => this.CONSUME(t.Semicolon) }]);
    });
    this.CONSUME(t.RBrace);
  });

  splitBackwardRule = this.RULE('splitBackwardRule', () => {
    this.CONSUME(t.Split);
    this.CONSUME(t.Backward);
  });

  limitRule = this.RULE('limitRule', () => {
    this.CONSUME(t.Limit);
    this.CONSUME(t.Name, { LABEL: 'resource' });
    this.CONSUME(t.LessEqual);
    this.SUBRULE(this.expression, { LABEL: 'bound' });
    this.OPTION(() => {
      this.CONSUME(t.Per);
      this.CONSUME2(t.Name, { LABEL: 'per' });
    });
  });

  priorityRule = this.RULE('priorityRule', () => {
    this.CONSUME(t.Priority);
    this.SUBRULE(this.priorityTerm);
    this.MANY(() => {
      this.CONSUME(t.Greater);
      this.SUBRULE2(this.priorityTerm);
    });
  });

  /**
   * `recompute when live > 2`, `offload ratio 0.5`: which forwards the list
   * scheduler checkpoints or offloads. The trigger word and its value are
   * read when the schedule is evaluated (`when` takes the comparison
   * `live > K`, `ratio` a number), so the grammar stays one shape.
   */
  memoryRule = this.RULE('memoryRule', () => {
    this.OR([{ ALT: () => this.CONSUME(t.Recompute) }, { ALT: () => this.CONSUME(t.Offload) }]);
    this.CONSUME(t.Name, { LABEL: 'trigger' });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  priorityTerm = this.RULE('priorityTerm', () => {
    this.CONSUME(t.Identifier, { LABEL: 'operation' });
    this.OPTION(() => {
      this.CONSUME(t.LBracket);
      this.SUBRULE(this.expression, { LABEL: 'chunk' });
      this.CONSUME(t.RBracket);
    });
  });

  /**
   * `requires placement v` / `requires split backward` (a name, optionally a
   * second), or a condition on the shape with an optional message:
   * `requires m >= 2 * p "needs at least 2p microbatches"`. A name followed
   * by an operator, `(` or a string starts a condition.
   */
  requiresRule = this.RULE('requiresRule', () => {
    this.CONSUME(t.Requires);
    this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          GATE: () => this.startsNamedRequirement(),
          ALT: () => {
            this.CONSUME(t.Name, { LABEL: 'what' });
            // A bare `requires X` must not swallow the next statement's keyword.
            this.OPTION({
              GATE: () => !t.scheduleStatementKeywords.has(this.LA(1).tokenType),
              DEF: () => this.CONSUME2(t.Name, { LABEL: 'value' }),
            });
          },
        },
        {
          ALT: () => {
            this.SUBRULE(this.expression, { LABEL: 'condition' });
            this.OPTION2(() => this.CONSUME(t.StringLiteral, { LABEL: 'message' }));
          },
        },
      ],
    });
  });

  private startsNamedRequirement(): boolean {
    if (!tokenMatcher(this.LA(1), t.Name)) return false;
    const after = this.LA(2);
    return !(
      tokenMatcher(after, t.ComparisonOperator) || tokenMatcher(after, t.EqualityOperator) || tokenMatcher(after, t.AdditiveOperator)
      || tokenMatcher(after, t.MultiplicativeOperator) || tokenMatcher(after, t.AndAnd) || tokenMatcher(after, t.OrOr)
      || tokenMatcher(after, t.LParen) || tokenMatcher(after, t.StringLiteral)
    );
  }

  // ── shared pieces ─────────────────────────────────────────────────────
  argumentList = this.RULE('argumentList', () => {
    this.CONSUME(t.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.argument);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.argument);
      });
    });
    this.CONSUME(t.RParen);
  });

  argument = this.RULE('argument', () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === t.Colon,
      DEF: () => {
        this.CONSUME(t.Name, { LABEL: 'name' });
        this.CONSUME(t.Colon);
      },
    });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  rangeExpression = this.RULE('rangeExpression', () => {
    this.SUBRULE(this.expression, { LABEL: 'from' });
    this.CONSUME(t.DotDot);
    this.SUBRULE2(this.expression, { LABEL: 'to' });
  });

  expressionList = this.RULE('expressionList', () => {
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.expression);
      });
    });
  });

  // ── expressions, loosest binding first ────────────────────────────────
  expression = this.RULE('expression', () => {
    this.SUBRULE(this.orExpression);
  });

  orExpression = this.RULE('orExpression', () => {
    this.SUBRULE(this.andExpression, { LABEL: 'operand' });
    this.MANY(() => {
      this.CONSUME(t.OrOr, { LABEL: 'operator' });
      this.SUBRULE2(this.andExpression, { LABEL: 'operand' });
    });
  });

  andExpression = this.RULE('andExpression', () => {
    this.SUBRULE(this.equalityExpression, { LABEL: 'operand' });
    this.MANY(() => {
      this.CONSUME(t.AndAnd, { LABEL: 'operator' });
      this.SUBRULE2(this.equalityExpression, { LABEL: 'operand' });
    });
  });

  equalityExpression = this.RULE('equalityExpression', () => {
    this.SUBRULE(this.comparisonExpression, { LABEL: 'operand' });
    this.MANY(() => {
      this.CONSUME(t.EqualityOperator, { LABEL: 'operator' });
      this.SUBRULE2(this.comparisonExpression, { LABEL: 'operand' });
    });
  });

  comparisonExpression = this.RULE('comparisonExpression', () => {
    this.SUBRULE(this.additiveExpression, { LABEL: 'operand' });
    this.MANY(() => {
      this.CONSUME(t.ComparisonOperator, { LABEL: 'operator' });
      this.SUBRULE2(this.additiveExpression, { LABEL: 'operand' });
    });
  });

  additiveExpression = this.RULE('additiveExpression', () => {
    this.SUBRULE(this.multiplicativeExpression, { LABEL: 'operand' });
    this.MANY(() => {
      this.CONSUME(t.AdditiveOperator, { LABEL: 'operator' });
      this.SUBRULE2(this.multiplicativeExpression, { LABEL: 'operand' });
    });
  });

  multiplicativeExpression = this.RULE('multiplicativeExpression', () => {
    this.SUBRULE(this.unaryExpression, { LABEL: 'operand' });
    this.MANY(() => {
      this.CONSUME(t.MultiplicativeOperator, { LABEL: 'operator' });
      this.SUBRULE2(this.unaryExpression, { LABEL: 'operand' });
    });
  });

  unaryExpression = this.RULE('unaryExpression', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([
            { ALT: () => this.CONSUME(t.Minus, { LABEL: 'operator' }) },
            { ALT: () => this.CONSUME(t.Bang, { LABEL: 'operator' }) },
          ]);
          this.SUBRULE(this.unaryExpression, { LABEL: 'operand' });
        },
      },
      { ALT: () => this.SUBRULE(this.primaryExpression) },
    ]);
  });

  primaryExpression = this.RULE('primaryExpression', () => {
    this.OR([
      { ALT: () => this.CONSUME(t.NumberLiteral) },
      { ALT: () => this.CONSUME(t.QuantityLiteral) },
      { ALT: () => this.CONSUME(t.StringLiteral) },
      { ALT: () => this.CONSUME(t.True) },
      { ALT: () => this.CONSUME(t.False) },
      {
        ALT: () => {
          this.CONSUME(t.PlainName);
          this.OPTION(() => this.SUBRULE(this.argumentList));
        },
      },
      {
        ALT: () => {
          this.CONSUME(t.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(t.RParen);
        },
      },
    ]);
  });
}

/** The one parser instance: building it runs chevrotain's grammar analysis, which is slow. */
export const pipeParser = new PipeParser();
