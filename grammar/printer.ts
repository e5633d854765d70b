// The canonical formatter. `printDocument(parse(x).document)` re-parses to
// the same AST (spans aside) and printing is idempotent. Layout: one member
// or statement per line, two-space indent, spaces around binary operators
// except inside `[...]` and ranges (`F[i+w]`, `0..m-w`), short action-only
// loop bodies on one line.
//
// Comments are kept: each one is printed before the first statement-level
// node that starts after it (comments inside an expression move to just
// before its statement). Given the source text, a comment on the same line
// as the end of a statement stays at the end of that line, and one blank
// line between members is kept where the source had one or more.

import type * as ast from './ast.ts';

export interface PrintOptions {
  /** The text the document was parsed from: enables same-line comments and kept blank lines. */
  readonly text?: string;
}

const indentUnit = '  ';
const oneLineWidth = 80;
/** Stage and attribute lists longer than this are broken after commas. */
const wrapWidth = 100;

const precedence: Readonly<Record<ast.BinaryOperator, number>> = {
  '||': 1,
  '&&': 2,
  '==': 3,
  '!=': 3,
  '<': 4,
  '<=': 4,
  '>': 4,
  '>=': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
};
const unaryPrecedence = 7;

export function printDocument(document: ast.Document, options: PrintOptions = {}): string {
  return new Printer(document, options.text).print();
}

/** An expression on its own, e.g. for messages; `compact` drops spaces around operators. */
export function printExpression(expression: ast.Expression | ast.RangeExpression, compact = false): string {
  return expressionText(expression, compact);
}

function escapeString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\t') out += '\\t';
    else if (char === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return `${out}"`;
}

function expressionPrecedence(expression: ast.Expression): number {
  if (expression.kind === 'BinaryExpression') return precedence[expression.operator];
  if (expression.kind === 'UnaryExpression') return unaryPrecedence;
  return 8;
}

function binaryOperatorCount(expression: ast.Expression): number {
  switch (expression.kind) {
    case 'BinaryExpression':
      return 1 + binaryOperatorCount(expression.left) + binaryOperatorCount(expression.right);
    case 'UnaryExpression':
      return binaryOperatorCount(expression.operand);
    case 'ParenthesizedExpression':
      return binaryOperatorCount(expression.expression);
    default:
      return 0;
  }
}

/**
 * `compact` asks for no spaces around operators (inside brackets and ranges),
 * honoured only for a single operator: `F[i+w]` but `F[(k + w) % m]`.
 */
function expressionText(expression: ast.Expression | ast.RangeExpression, compact: boolean): string {
  if (compact && expression.kind !== 'RangeExpression' && binaryOperatorCount(expression) > 1) compact = false;
  switch (expression.kind) {
    case 'NumberLiteral':
      return expression.text !== '' ? expression.text : String(expression.value);
    case 'QuantityLiteral':
      return expression.text !== '' ? expression.text : `${expression.value}${expression.unit}`;
    case 'StringLiteral':
      return escapeString(expression.value);
    case 'BooleanLiteral':
      return expression.value ? 'true' : 'false';
    case 'NameExpression':
      return expression.name.name;
    case 'CallExpression':
      return `${expression.callee.name}(${argumentsText(expression.args)})`;
    case 'ParenthesizedExpression':
      return `(${expressionText(expression.expression, compact)})`;
    case 'UnaryExpression': {
      const operand = expressionText(expression.operand, compact);
      // Parenthesize an operand that binds looser (only hand-built ASTs have one).
      return expression.operator + (expressionPrecedence(expression.operand) < unaryPrecedence ? `(${operand})` : operand);
    }
    case 'BinaryExpression': {
      const own = precedence[expression.operator];
      let left = expressionText(expression.left, compact);
      let right = expressionText(expression.right, compact);
      if (expressionPrecedence(expression.left) < own) left = `(${left})`;
      if (expressionPrecedence(expression.right) <= own) right = `(${right})`;
      return compact ? `${left}${expression.operator}${right}` : `${left} ${expression.operator} ${right}`;
    }
    case 'RangeExpression':
      return `${expressionText(expression.from, true)}..${expressionText(expression.to, true)}`;
  }
}

function argumentsText(args: readonly ast.Argument[]): string {
  return args
    .map((argument) => {
      const value = expressionText(argument.value, false);
      return argument.name === undefined ? value : `${argument.name.name}: ${value}`;
    })
    .join(', ');
}

function indexText(index: ast.Expression | ast.RangeExpression | ast.WildcardIndex | undefined): string {
  if (index === undefined) return '';
  if (index.kind === 'WildcardIndex') return '[*]';
  return `[${expressionText(index, true)}]`;
}

function propertiesText(properties: readonly ast.Property[]): string {
  return properties.map((property) => ` ${property.key.name} ${expressionText(property.value, false)}`).join('');
}

function actionText(action: ast.ActionStatement): string {
  const chunk = action.chunk === undefined ? '' : `, ${expressionText(action.chunk, true)}`;
  return `${action.operation}[${expressionText(action.microbatch, true)}${chunk}]`;
}

/** Any node that has a span; the printer only needs positions to place comments. */
interface Positioned {
  readonly span: { readonly start: number; readonly end: number };
}

class Printer {
  private readonly document: ast.Document;
  private readonly text: string | undefined;
  private readonly comments: readonly ast.Comment[];
  private nextComment = 0;
  private readonly lines: string[] = [];
  private depth = 0;

  constructor(document: ast.Document, text: string | undefined) {
    this.document = document;
    this.text = text;
    this.comments = [...document.comments].sort((a, b) => a.span.start - b.span.start);
  }

  print(): string {
    const items: (ast.ImportDeclaration | ast.Declaration)[] = [...this.document.imports, ...this.document.declarations];
    items.sort((a, b) => a.span.start - b.span.start);
    let previous: ast.ImportDeclaration | ast.Declaration | undefined;
    for (const item of items) {
      if (previous !== undefined && !(previous.kind === 'ImportDeclaration' && item.kind === 'ImportDeclaration')) {
        this.blankLine();
      } else if (previous !== undefined && this.hadBlankLineBefore(previous, item)) {
        this.blankLine();
      }
      this.topLevel(item);
      previous = item;
    }
    if (this.nextComment < this.comments.length && items.length > 0) this.blankLine();
    this.flushCommentsBefore(Number.POSITIVE_INFINITY);
    while (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }

  // ── lines and comments ──────────────────────────────────────────────
  private line(content: string): void {
    this.lines.push(indentUnit.repeat(this.depth) + content);
  }

  private blankLine(): void {
    if (this.lines.length > 0 && this.lines[this.lines.length - 1] !== '') this.lines.push('');
  }

  /**
   * Prints the comments that start before `offset`. With `beforeNode` (the
   * offset is where the next member starts) a blank line after a comment in
   * the source is kept, so a file's header comment stays apart from it.
   */
  private flushCommentsBefore(offset: number, beforeNode = false): void {
    while (this.nextComment < this.comments.length && this.comments[this.nextComment].span.start < offset) {
      const comment = this.comments[this.nextComment];
      this.line(comment.text);
      this.nextComment++;
      if (!beforeNode || this.text === undefined) continue;
      const following = this.comments[this.nextComment];
      const nextStart = following !== undefined && following.span.start < offset ? following.span.start : offset;
      if (/\n[ \t\r\f\v]*\n/.test(this.text.slice(comment.span.end, nextStart))) this.blankLine();
    }
  }

  /** Appends comments that sat on the same source line right after `end`. */
  private trailingComments(end: number): void {
    if (this.text === undefined) return;
    while (this.nextComment < this.comments.length) {
      const comment = this.comments[this.nextComment];
      if (comment.span.start < end) return;
      const between = this.text.slice(end, comment.span.start);
      if (/\S|\n/.test(between)) return;
      this.lines[this.lines.length - 1] += ` ${comment.text}`;
      end = comment.span.end;
      this.nextComment++;
      if (comment.text.startsWith('//')) return;
    }
  }

  private hasCommentWithin(node: Positioned): boolean {
    const next = this.comments[this.nextComment];
    return next !== undefined && next.span.start < node.span.end;
  }

  private hadBlankLineBefore(previous: Positioned, node: Positioned): boolean {
    if (this.text === undefined) return false;
    const nextComment = this.comments[this.nextComment];
    const groupStart =
      nextComment !== undefined && nextComment.span.start < node.span.start ? Math.min(nextComment.span.start, node.span.start) : node.span.start;
    if (groupStart < previous.span.end) return false;
    return /\n[ \t\r\f\v]*\n/.test(this.text.slice(previous.span.end, groupStart));
  }

  /** Offset of the block's `{` in the source (the first one outside a comment), to keep `model m { // note`. */
  private openingBrace(node: Positioned): number | undefined {
    if (this.text === undefined) return undefined;
    let at = this.text.indexOf('{', node.span.start);
    while (at >= 0 && at < node.span.end) {
      const position = at;
      const inComment = this.comments.some((c) => c.span.start <= position && position < c.span.end);
      if (!inComment) return at;
      at = this.text.indexOf('{', at + 1);
    }
    return undefined;
  }

  /** A statement printed on one line: comments inside it move above it. */
  /** One node on one line, or with `continuations` on their own lines indented one level more. */
  private simple(node: Positioned, content: string, continuations: readonly string[] = []): void {
    this.flushCommentsBefore(node.span.start, true);
    this.flushCommentsBefore(node.span.end);
    this.line(content);
    for (const continuation of continuations) this.lines.push(indentUnit.repeat(this.depth + 1) + continuation);
    this.trailingComments(node.span.end);
  }

  /**
   * `head item, item, ...` on one line when it fits in `wrapWidth`, else
   * broken after commas with the continuation lines indented twice more.
   */
  private simpleList(node: Positioned, head: string, items: readonly string[]): void {
    const oneLine = `${head}${items.join(', ')}`;
    if (indentUnit.length * this.depth + oneLine.length <= wrapWidth || items.length < 2) return this.simple(node, oneLine);
    this.flushCommentsBefore(node.span.start, true);
    this.flushCommentsBefore(node.span.end);
    const continuation = indentUnit.repeat(this.depth + 2);
    let current = indentUnit.repeat(this.depth) + head;
    let first = true;
    for (const [index, item] of items.entries()) {
      const piece = `${item}${index < items.length - 1 ? ',' : ''}`;
      if (!first && current.length + 1 + piece.length > wrapWidth) {
        this.lines.push(current);
        current = continuation + piece;
      } else {
        current += `${first ? '' : ' '}${piece}`;
      }
      first = false;
    }
    this.lines.push(current);
    this.trailingComments(node.span.end);
  }

  /** `head {` members `}`; `head {}` when there is nothing inside. */
  /** `member` prints one member, or returns 2 when it printed the next one on the same line too. */
  private block<T extends Positioned>(
    node: Positioned,
    head: string,
    members: readonly T[],
    member: (m: T, next: T | undefined) => number | void,
  ): void {
    this.flushCommentsBefore(node.span.start, true);
    if (members.length === 0 && !this.hasCommentWithin(node)) {
      this.line(`${head} {}`);
      this.trailingComments(node.span.end);
      return;
    }
    this.line(`${head} {`);
    const brace = this.openingBrace(node);
    if (brace !== undefined) this.trailingComments(brace + 1);
    this.depth++;
    let previous: T | undefined;
    for (let index = 0; index < members.length; index++) {
      const m = members[index];
      if (previous !== undefined && this.hadBlankLineBefore(previous, m)) this.blankLine();
      this.flushCommentsBefore(m.span.start, true);
      const consumed = member(m, members[index + 1]) ?? 1;
      previous = members[index + consumed - 1];
      index += consumed - 1;
    }
    this.flushCommentsBefore(node.span.end);
    this.depth--;
    this.line('}');
    this.trailingComments(node.span.end);
  }

  // ── declarations ────────────────────────────────────────────────────
  private topLevel(item: ast.ImportDeclaration | ast.Declaration): void {
    switch (item.kind) {
      case 'ImportDeclaration':
        return this.simple(item, `import ${escapeString(item.path.value)}`);
      case 'ExternLayerDeclaration': {
        const params = item.params
          .map((p) => `${p.name.name}: ${p.type.name}${p.default === undefined ? '' : ` = ${expressionText(p.default, false)}`}`)
          .join(', ');
        const dims = (list: readonly ast.Expression[]): string => list.map((d) => expressionText(d, false)).join(', ');
        const head = `extern layer ${item.name.name}(${params}) : [${dims(item.inputDims)}] -> [${dims(item.outputDims)}] from ${escapeString(item.path.value)}`;
        if (item.cost === undefined) return this.simple(item, head);
        const cost = `cost(${argumentsText(item.cost)})`;
        if (indentUnit.length * this.depth + head.length + 1 + cost.length <= wrapWidth) return this.simple(item, `${head} ${cost}`);
        // Too long for one line: the cost clause goes on its own, indented under the declaration.
        return this.simple(item, head, [cost]);
      }
      case 'ModelDeclaration':
        return this.block(item, `model ${item.name.name}`, item.members, (m) => this.modelMember(m));
      case 'ClusterDeclaration':
        return this.block(item, `cluster ${item.name.name}`, item.members, (m) => this.clusterMember(m));
      case 'PipelineDeclaration':
        return this.block(item, `pipeline ${item.name.name}`, item.members, (m, next) => this.pipelineMember(m, next));
      case 'ScheduleDeclaration': {
        const params = item.params
          .map((p) => `${p.name.name}${p.default === undefined ? '' : ` = ${expressionText(p.default, false)}`}`)
          .join(', ');
        const head = `schedule ${item.name.name}${item.params.length === 0 ? '' : `(${params})`}`;
        return this.block(item, head, item.body, (s) => this.scheduleStatement(s));
      }
    }
  }

  private layerNameText(name: ast.LayerName): string {
    return `${name.base.name}${name.index === undefined ? '' : `[${expressionText(name.index, true)}]`}`;
  }

  private modelMember(member: ast.ModelMember): void {
    switch (member.kind) {
      case 'DimDeclaration':
        return this.simple(
          member,
          `dim ${member.name.name}${member.value === undefined ? '' : ` = ${expressionText(member.value, false)}`}`,
        );
      case 'TensorDeclaration': {
        const dims = member.type.dims.map((d) => expressionText(d, false)).join(', ');
        return this.simple(member, `${member.role} ${member.name.name}: ${member.type.dtype.name}[${dims}]`);
      }
      case 'LayerDeclaration':
        return this.simple(
          member,
          `${member.frozen ? 'frozen ' : ''}layer ${this.layerNameText(member.name)} = ${member.operator.name}(${argumentsText(member.args)})`,
        );
      case 'RepeatBlock':
        return this.block(
          member,
          `repeat ${member.variable.name} in ${expressionText(member.range, true)}`,
          member.body,
          (m) => this.modelMember(m),
        );
      case 'ResidualBlock':
        return this.block(member, `residual ${this.layerNameText(member.name)}`, member.body, (m) => this.modelMember(m));
      case 'LossDeclaration':
        return this.simple(member, `loss ${member.function.name}(${argumentsText(member.args)})`);
    }
  }

  private deviceReferenceText(reference: ast.DeviceReference): string {
    return `${reference.base.name}${indexText(reference.index)}`;
  }

  private clusterMember(member: ast.ClusterMember): void {
    if (member.kind === 'DeviceDeclaration') {
      const range = member.range === undefined ? '' : `[${expressionText(member.range, true)}]`;
      return this.simple(member, `device ${member.name.name}${range}${propertiesText(member.properties)}`);
    }
    const arrow = member.bidirectional ? '<->' : '->';
    return this.simple(
      member,
      `link ${this.deviceReferenceText(member.from)} ${arrow} ${this.deviceReferenceText(member.to)}${propertiesText(member.properties)}`,
    );
  }

  private pipelineMember(member: ast.PipelineMember, next: ast.PipelineMember | undefined): number | void {
    switch (member.kind) {
      case 'PipelineSetting': {
        const setting = `${member.key.name} ${expressionText(member.value, false)}`;
        // `batch 64 microbatches 8` reads as one phrase and stays on one line.
        if (
          member.key.name === 'batch' &&
          next?.kind === 'PipelineSetting' &&
          next.key.name === 'microbatches' &&
          !this.hasCommentWithin({ span: { start: member.span.start, end: next.span.end } })
        ) {
          this.simple({ span: { start: member.span.start, end: next.span.end } }, `${setting} microbatches ${expressionText(next.value, false)}`);
          return 2;
        }
        return this.simple(member, setting);
      }
      case 'AutoStages': {
        const balance = member.balance === undefined ? '' : ` balance ${member.balance.name}`;
        const placement = member.placement === undefined ? '' : ` placement ${member.placement.name}`;
        return this.simple(member, `stages auto(${expressionText(member.count, false)})${balance}${placement}`);
      }
      case 'StagesBlock': {
        const head = member.placement === undefined ? 'stages' : `stages placement ${member.placement.name}`;
        return this.block(member, head, member.stages, (stage) => {
          const device = stage.device === undefined ? '' : ` on ${this.deviceReferenceText(stage.device)}`;
          const layers = stage.layers.map((l) => `${l.base.name}${indexText(l.index)}`);
          this.simpleList(stage, `${stage.name.name}${device} = `, layers);
        });
      }
      case 'ScheduleUse':
        return this.simple(
          member,
          `schedule ${member.name.name}${member.args.length === 0 ? '' : `(${argumentsText(member.args)})`}`,
        );
      case 'StageAttribute':
        return this.simpleList(member, `${member.attribute} `, member.stages.map((s) => s.name));
    }
  }

  // ── schedules ───────────────────────────────────────────────────────
  private scheduleStatement(statement: ast.ScheduleStatement): void {
    switch (statement.kind) {
      case 'LetStatement':
      case 'OnDeviceBlock':
        return this.orderOrScheduleStatement(statement);
      case 'SplitBackwardRule':
        return this.simple(statement, 'split backward');
      case 'LimitRule': {
        const per = statement.per === undefined ? '' : ` per ${statement.per.name}`;
        return this.simple(statement, `limit ${statement.resource.name} <= ${expressionText(statement.bound, false)}${per}`);
      }
      case 'PriorityRule': {
        const terms = statement.terms.map(
          (term) => `${term.operation}${term.chunk === undefined ? '' : `[${expressionText(term.chunk, true)}]`}`,
        );
        return this.simple(statement, `priority ${terms.join(' > ')}`);
      }
      case 'MemoryRule':
        return this.simple(statement, `${statement.action} ${statement.trigger.name} ${expressionText(statement.value, false)}`);
      case 'RequiresRule':
        return this.simple(
          statement,
          `requires ${statement.what.name}${statement.value === undefined ? '' : ` ${statement.value.name}`}`,
        );
      case 'RequiresCondition':
        return this.simple(
          statement,
          `requires ${expressionText(statement.condition, false)}${statement.message === undefined ? '' : ` ${expressionText(statement.message, false)}`}`,
        );
    }
  }

  private orderOrScheduleStatement(statement: ast.OrderStatement | ast.OnDeviceBlock): void {
    switch (statement.kind) {
      case 'LetStatement':
        return this.simple(statement, `let ${statement.name.name} = ${expressionText(statement.value, false)}`);
      case 'OnDeviceBlock':
        return this.block(statement, `on device ${statement.variable.name}`, statement.body, (s) =>
          this.orderOrScheduleStatement(s),
        );
      case 'ActionStatement':
        return this.simple(statement, actionText(statement));
      case 'ForStatement': {
        const head = `for ${statement.variable.name} in ${expressionText(statement.range, true)}`;
        const oneLine = this.oneLineBody(statement, statement.body);
        if (oneLine !== undefined && this.fits(`${head} ${oneLine}`)) return this.simple(statement, `${head} ${oneLine}`);
        return this.block(statement, head, statement.body, (s) => this.orderOrScheduleStatement(s));
      }
      case 'OverlapStatement': {
        const oneLine = this.oneLineBody(statement, statement.body);
        if (oneLine !== undefined && this.fits(`overlap ${oneLine}`)) return this.simple(statement, `overlap ${oneLine}`);
        return this.block(statement, 'overlap', statement.body, (s) => this.orderOrScheduleStatement(s));
      }
      case 'IfStatement':
        return this.ifStatement(statement);
    }
  }

  private fits(content: string): boolean {
    return indentUnit.length * this.depth + content.length <= oneLineWidth;
  }

  /** `{ F[i]; B[i] }` when the body is only actions and holds no comment; else undefined. */
  private oneLineBody(node: Positioned, body: readonly ast.OrderStatement[]): string | undefined {
    if (body.length === 0 || this.hasCommentWithin(node)) return undefined;
    if (!body.every((s) => s.kind === 'ActionStatement')) return undefined;
    return `{ ${body.map((s) => actionText(s as ast.ActionStatement)).join('; ')} }`;
  }

  private ifStatement(statement: ast.IfStatement): void {
    // Try the whole chain on one line: `if d == 0 { F[0] } else { B[0] }`.
    const parts: string[] = [];
    let current: ast.IfStatement | undefined = statement;
    let oneLine = !this.hasCommentWithin(statement);
    while (current !== undefined && oneLine) {
      const then = this.oneLineBody(current, current.then);
      if (then === undefined) oneLine = false;
      parts.push(`if ${expressionText(current.condition, false)} ${then}`);
      const otherwise: readonly ast.OrderStatement[] | undefined = current.otherwise;
      if (otherwise === undefined) current = undefined;
      else if (otherwise.length === 1 && otherwise[0].kind === 'IfStatement') current = otherwise[0];
      else {
        const elseBody = this.oneLineBody(current, otherwise);
        if (elseBody === undefined) oneLine = false;
        parts.push(elseBody ?? '');
        current = undefined;
      }
    }
    const joined = parts.join(' else ');
    if (oneLine && this.fits(joined)) return this.simple(statement, joined);

    this.flushCommentsBefore(statement.span.start, true);
    this.line(`if ${expressionText(statement.condition, false)} {`);
    this.ifRest(statement);
    this.trailingComments(statement.span.end);
  }

  /** The then-body of an if whose head line is printed, then its else chain. */
  private ifRest(statement: ast.IfStatement): void {
    const otherwise = statement.otherwise;
    // Comments between the then-body and `else` stay at the end of the then-body.
    const thenEnd = otherwise !== undefined && otherwise.length > 0 ? otherwise[0].span.start : statement.span.end;
    this.nestedBody(statement.then, thenEnd);
    if (otherwise === undefined) return;
    if (otherwise.length === 1 && otherwise[0].kind === 'IfStatement') {
      const nested = otherwise[0];
      this.lines[this.lines.length - 1] += ` else if ${expressionText(nested.condition, false)} {`;
      this.ifRest(nested);
      return;
    }
    this.lines[this.lines.length - 1] += ' else {';
    this.nestedBody(otherwise, statement.span.end);
  }

  /** Prints statements one level deeper and closes with `}`; comments before `end` go inside. */
  private nestedBody(body: readonly ast.OrderStatement[], end: number): void {
    this.depth++;
    let previous: ast.OrderStatement | undefined;
    for (const statement of body) {
      if (previous !== undefined && this.hadBlankLineBefore(previous, statement)) this.blankLine();
      this.flushCommentsBefore(statement.span.start, true);
      this.orderOrScheduleStatement(statement);
      previous = statement;
    }
    this.flushCommentsBefore(end);
    this.depth--;
    this.line('}');
  }
}
