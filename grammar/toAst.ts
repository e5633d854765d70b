// CST → AST. The CST may come from a recovered parse, so every child can be
// missing even where the generated types say it is required: each lookup
// goes through `first()`/`all()`, missing names become Identifiers with
// `name: ''` and a zero-width span, missing expressions become such a name
// in a NameExpression, and nothing here throws on any input.

import type { CstNode, IToken } from 'chevrotain';
import type * as ast from './ast.ts';
import type * as cst from './cst.d.ts';
import { makeDiagnostic, type Diagnostic } from './diagnostic.ts';
import { printExpression } from './printer.ts';
import type { Span } from './source.ts';
import { diagnosticMessages } from './diagnosticMessages.ts';
import { MAX_EXPRESSION_DEPTH } from './limits.ts';

/** Tolerates children that recovery left out. */
function first<T>(items: readonly T[] | undefined): T | undefined {
  return items?.[0];
}

function all<T>(items: readonly T[] | undefined): readonly T[] {
  return items ?? [];
}

function isRealToken(token: IToken | undefined): token is IToken {
  return token !== undefined && token.isInsertedInRecovery !== true && Number.isFinite(token.startOffset);
}

/** Exclusive end offset (chevrotain's `endOffset` is inclusive and typed optional). */
export function tokenEnd(token: IToken): number {
  return token.startOffset + token.image.length;
}

function isCstNode(value: CstNode | IToken): value is CstNode {
  return (value as CstNode).children !== undefined;
}

const actionOperations: ReadonlySet<string> = new Set(['F', 'B', 'I', 'W', 'R', 'O', 'L', 'S', 'T']);

/** `a`, `block[0..2]`, `gpu[*]`: a reference as the user would write it, for messages. */
function referenceText(reference: ast.LayerReference | ast.DeviceReference): string {
  const index = reference.index;
  if (index === undefined) return reference.base.name;
  return `${reference.base.name}[${index.kind === 'WildcardIndex' ? '*' : printExpression(index, true)}]`;
}

export interface AstResult {
  readonly document: ast.Document;
  readonly diagnostics: readonly Diagnostic[];
}

export function cstToAst(root: cst.DocumentCstNode, file: string, textLength: number, comments: readonly IToken[]): AstResult {
  const builder = new AstBuilder(file, textLength);
  const document = builder.document(root, comments);
  return { document, diagnostics: builder.diagnostics };
}

/** The height of an expression tree, walked without recursion (the tree may be deeper than the stack). */
function expressionDepth(root: ast.Expression): number {
  let deepest = 0;
  const pending: [ast.Expression, number][] = [[root, 1]];
  while (pending.length > 0) {
    const [expression, depth] = pending.pop()!;
    deepest = Math.max(deepest, depth);
    switch (expression.kind) {
      case 'BinaryExpression': pending.push([expression.left, depth + 1], [expression.right, depth + 1]); break;
      case 'UnaryExpression': pending.push([expression.operand, depth + 1]); break;
      case 'ParenthesizedExpression': pending.push([expression.expression, depth + 1]); break;
      case 'CallExpression': for (const argument of expression.args) pending.push([argument.value, depth + 1]); break;
      default: break;
    }
  }
  return deepest;
}

class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /** How many expression() calls are open: 1 inside the outermost expression. */
  private expressionNesting = 0;
  private readonly file: string;
  private readonly textLength: number;

  constructor(file: string, textLength: number) {
    this.file = file;
    this.textLength = textLength;
  }

  // ── spans ────────────────────────────────────────────────────────────
  private span(start: number, end: number): Span {
    const clampedStart = Math.max(0, Math.min(start, this.textLength));
    return { file: this.file, start: clampedStart, end: Math.max(clampedStart, Math.min(end, this.textLength)) };
  }

  private tokenSpan(token: IToken): Span {
    return this.span(token.startOffset, tokenEnd(token));
  }

  /** The node's extent, from chevrotain's location when it is whole, else from the real tokens inside. */
  private nodeSpan(node: CstNode | undefined, fallback: number): Span {
    if (node === undefined) return this.span(fallback, fallback);
    const location = node.location;
    if (location !== undefined && Number.isFinite(location.startOffset) && Number.isFinite(location.endOffset)) {
      return this.span(location.startOffset, (location.endOffset ?? location.startOffset) + 1);
    }
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    const walk = (current: CstNode): void => {
      for (const children of Object.values(current.children)) {
        for (const child of children) {
          if (isCstNode(child)) walk(child);
          else if (isRealToken(child)) {
            start = Math.min(start, child.startOffset);
            end = Math.max(end, tokenEnd(child));
          }
        }
      }
    };
    walk(node);
    return Number.isFinite(start) ? this.span(start, end) : this.span(fallback, fallback);
  }

  private identifier(token: IToken | undefined, fallback: number): ast.Identifier {
    if (!isRealToken(token)) return { kind: 'Identifier', name: '', span: this.span(fallback, fallback) };
    return { kind: 'Identifier', name: token.image, span: this.tokenSpan(token) };
  }

  private missingExpression(at: number): ast.NameExpression {
    const span = this.span(at, at);
    return { kind: 'NameExpression', name: { kind: 'Identifier', name: '', span }, span };
  }

  // ── documents ────────────────────────────────────────────────────────
  document(node: cst.DocumentCstNode, comments: readonly IToken[]): ast.Document {
    const c = node.children;
    const imports = all(c.importDeclaration).map((n) => this.importDeclaration(n));
    const declarations: ast.Declaration[] = [
      ...all(c.modelDeclaration).map((n) => this.modelDeclaration(n)),
      ...all(c.clusterDeclaration).map((n) => this.clusterDeclaration(n)),
      ...all(c.pipelineDeclaration).map((n) => this.pipelineDeclaration(n)),
      ...all(c.scheduleDeclaration).map((n) => this.scheduleDeclaration(n)),
      ...all(c.externLayerDeclaration).map((n) => this.externLayerDeclaration(n)),
    ];
    // The CST groups children by rule; source order is what users and the printer expect.
    declarations.sort((a, b) => a.span.start - b.span.start);
    return {
      kind: 'Document',
      imports,
      declarations,
      comments: comments.filter(isRealToken).map((token) => ({
        kind: 'Comment',
        text: token.image,
        span: this.tokenSpan(token),
      })),
      span: this.span(0, this.textLength),
    };
  }

  private importDeclaration(node: cst.ImportDeclarationCstNode): ast.ImportDeclaration {
    const span = this.nodeSpan(node, 0);
    return { kind: 'ImportDeclaration', path: this.stringLiteral(first(node.children.path), span.end), span };
  }

  // ── model ───────────────────────────────────────────────────────────
  private modelDeclaration(node: cst.ModelDeclarationCstNode): ast.ModelDeclaration {
    const span = this.nodeSpan(node, 0);
    return {
      kind: 'ModelDeclaration',
      name: this.identifier(first(node.children.name), span.start),
      members: this.modelMembers(node.children.modelMember, span.start),
      span,
    };
  }

  private modelMembers(nodes: readonly cst.ModelMemberCstNode[] | undefined, fallback: number): ast.ModelMember[] {
    const members: ast.ModelMember[] = [];
    for (const member of all(nodes)) {
      const c = member.children;
      const dim = first(c.dimDeclaration);
      const tensor = first(c.tensorDeclaration);
      const layer = first(c.layerDeclaration);
      const repeat = first(c.repeatBlock);
      const residual = first(c.residualBlock);
      const loss = first(c.lossDeclaration);
      if (dim) members.push(this.dimDeclaration(dim, fallback));
      else if (tensor) members.push(this.tensorDeclaration(tensor, fallback));
      else if (layer) members.push(this.layerDeclaration(layer, fallback));
      else if (repeat) members.push(this.repeatBlock(repeat, fallback));
      else if (residual) members.push(this.residualBlock(residual, fallback));
      else if (loss) members.push(this.lossDeclaration(loss, fallback));
    }
    return members;
  }

  private dimDeclaration(node: cst.DimDeclarationCstNode, fallback: number): ast.DimDeclaration {
    const span = this.nodeSpan(node, fallback);
    const value = first(node.children.value);
    return {
      kind: 'DimDeclaration',
      name: this.identifier(first(node.children.name), span.end),
      ...(node.children.Assign ? { value: this.expression(value, span.end) } : {}),
      span,
    };
  }

  private tensorDeclaration(node: cst.TensorDeclarationCstNode, fallback: number): ast.TensorDeclaration {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'TensorDeclaration',
      role: node.children.Target ? 'target' : 'input',
      name: this.identifier(first(node.children.name), span.end),
      type: this.tensorType(first(node.children.tensorType), span.end),
      span,
    };
  }

  private tensorType(node: cst.TensorTypeCstNode | undefined, fallback: number): ast.TensorType {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'TensorType',
      dtype: this.identifier(first(node?.children.dtype), span.start),
      dims: this.expressionList(first(node?.children.expressionList), span.end),
      span,
    };
  }

  private layerDeclaration(node: cst.LayerDeclarationCstNode, fallback: number): ast.LayerDeclaration {
    const span = this.nodeSpan(node, fallback);
    const frozen = first(node.children.Frozen);
    return {
      kind: 'LayerDeclaration',
      ...(frozen && isRealToken(frozen) ? { frozen: { span: this.tokenSpan(frozen) } } : {}),
      name: this.layerName(first(node.children.layerName), span.start),
      operator: this.identifier(first(node.children.operator), span.end),
      args: this.argumentList(first(node.children.argumentList), span.end),
      span,
    };
  }

  private layerName(node: cst.LayerNameCstNode | undefined, fallback: number): ast.LayerName {
    const span = this.nodeSpan(node, fallback);
    const index = node?.children.LBracket ? this.expression(first(node.children.index), span.end) : undefined;
    return {
      kind: 'LayerName',
      base: this.identifier(first(node?.children.base), span.start),
      ...(index ? { index } : {}),
      span,
    };
  }

  private repeatBlock(node: cst.RepeatBlockCstNode, fallback: number): ast.RepeatBlock {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'RepeatBlock',
      variable: this.identifier(first(node.children.variable), span.start),
      range: this.rangeExpression(first(node.children.rangeExpression), span.end),
      body: this.modelMembers(node.children.modelMember, span.end),
      span,
    };
  }

  private residualBlock(node: cst.ResidualBlockCstNode, fallback: number): ast.ResidualBlock {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'ResidualBlock',
      name: this.layerName(first(node.children.layerName), span.start),
      body: this.modelMembers(node.children.modelMember, span.end),
      span,
    };
  }

  private lossDeclaration(node: cst.LossDeclarationCstNode, fallback: number): ast.LossDeclaration {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'LossDeclaration',
      function: this.identifier(first(node.children.function), span.end),
      args: this.argumentList(first(node.children.argumentList), span.end),
      span,
    };
  }

  private externLayerDeclaration(node: cst.ExternLayerDeclarationCstNode): ast.ExternLayerDeclaration {
    const span = this.nodeSpan(node, 0);
    const c = node.children;
    return {
      kind: 'ExternLayerDeclaration',
      name: this.identifier(first(c.name), span.start),
      params: all(c.typedParameter).map((p) => this.typedParameter(p, span.start)),
      inputDims: this.expressionList(first(c.inputDims), span.end),
      outputDims: this.expressionList(first(c.outputDims), span.end),
      path: this.stringLiteral(first(c.path), span.end),
      ...(c.Cost ? { cost: this.argumentList(first(c.cost), span.end) } : {}),
      span,
    };
  }

  private typedParameter(node: cst.TypedParameterCstNode, fallback: number): ast.TypedParameter {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    return {
      kind: 'TypedParameter',
      name: this.identifier(first(c.name), span.start),
      type: this.identifier(first(c.type), span.end),
      ...(c.Assign ? { default: this.expression(first(c.default), span.end) } : {}),
      span,
    };
  }

  // ── cluster ─────────────────────────────────────────────────────────
  private clusterDeclaration(node: cst.ClusterDeclarationCstNode): ast.ClusterDeclaration {
    const span = this.nodeSpan(node, 0);
    const members: ast.ClusterMember[] = [];
    for (const member of all(node.children.clusterMember)) {
      const device = first(member.children.deviceDeclaration);
      const link = first(member.children.linkDeclaration);
      if (device) members.push(this.deviceDeclaration(device, span.start));
      else if (link) members.push(this.linkDeclaration(link, span.start));
    }
    return { kind: 'ClusterDeclaration', name: this.identifier(first(node.children.name), span.start), members, span };
  }

  private deviceDeclaration(node: cst.DeviceDeclarationCstNode, fallback: number): ast.DeviceDeclaration {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    return {
      kind: 'DeviceDeclaration',
      name: this.identifier(first(c.name), span.start),
      ...(c.LBracket ? { range: this.rangeExpression(first(c.rangeExpression), span.end) } : {}),
      properties: all(c.property).map((p) => this.property(p, span.end)),
      span,
    };
  }

  private linkDeclaration(node: cst.LinkDeclarationCstNode, fallback: number): ast.LinkDeclaration {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    return {
      kind: 'LinkDeclaration',
      from: this.deviceReference(first(c.from), span.start),
      to: this.deviceReference(first(c.to), span.end),
      bidirectional: c.Arrow === undefined,
      properties: all(c.property).map((p) => this.property(p, span.end)),
      span,
    };
  }

  private property(node: cst.PropertyCstNode, fallback: number): ast.Property {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'Property',
      key: this.identifier(first(node.children.key), span.start),
      value: this.expression(first(node.children.value), span.end),
      span,
    };
  }

  private deviceReference(node: cst.DeviceReferenceCstNode | undefined, fallback: number): ast.DeviceReference {
    const span = this.nodeSpan(node, fallback);
    const base = this.identifier(first(node?.children.base), span.start);
    const c = node?.children;
    if (c?.LBracket === undefined) return { kind: 'DeviceReference', base, span };
    const wildcard = first(c.wildcard);
    let index: ast.Expression | ast.RangeExpression | ast.WildcardIndex;
    if (isRealToken(wildcard)) index = { kind: 'WildcardIndex', span: this.tokenSpan(wildcard) };
    else index = this.maybeRange(first(c.from), c.DotDot, first(c.to), span.end);
    return { kind: 'DeviceReference', base, index, span };
  }

  // ── pipeline ────────────────────────────────────────────────────────
  private pipelineDeclaration(node: cst.PipelineDeclarationCstNode): ast.PipelineDeclaration {
    const span = this.nodeSpan(node, 0);
    const members: ast.PipelineMember[] = [];
    for (const member of all(node.children.pipelineMember)) {
      const c = member.children;
      const stages = first(c.stagesMember);
      const schedule = first(c.scheduleUse);
      const attribute = first(c.stageAttribute);
      const setting = first(c.pipelineSetting);
      if (stages) members.push(this.stagesMember(stages, span.start));
      else if (schedule) members.push(this.scheduleUse(schedule, span.start));
      else if (attribute) members.push(this.stageAttribute(attribute, span.start));
      else if (setting) members.push(this.pipelineSetting(setting, span.start));
    }
    return { kind: 'PipelineDeclaration', name: this.identifier(first(node.children.name), span.start), members, span };
  }

  private pipelineSetting(node: cst.PipelineSettingCstNode, fallback: number): ast.PipelineSetting {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'PipelineSetting',
      key: this.identifier(first(node.children.key), span.start),
      value: this.expression(first(node.children.value), span.end),
      span,
    };
  }

  private stagesMember(node: cst.StagesMemberCstNode, fallback: number): ast.StagesBlock | ast.AutoStages {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    if (c.Auto !== undefined) {
      return {
        kind: 'AutoStages',
        count: this.expression(first(c.count), span.end),
        ...(c.Balance ? { balance: this.identifier(first(c.balance), span.end) } : {}),
        ...(c.autoPlacement || c.Placement ? { placement: this.identifier(first(c.autoPlacement), span.end) } : {}),
        span,
      };
    }
    return {
      kind: 'StagesBlock',
      ...(c.Placement ? { placement: this.identifier(first(c.placement), span.end) } : {}),
      stages: all(c.stageDeclaration).map((s) => this.stageDeclaration(s, span.end)),
      span,
    };
  }

  private stageDeclaration(node: cst.StageDeclarationCstNode, fallback: number): ast.StageDeclaration {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    const name = this.identifier(first(c.name), span.start);
    const withoutOn = first(c.deviceWithoutOn);
    let device: ast.DeviceReference | undefined;
    if (c.On) device = this.deviceReference(first(c.deviceReference), span.end);
    else if (withoutOn) {
      device = this.deviceReference(withoutOn, span.end);
      this.diagnostics.push(
        makeDiagnostic(
          diagnosticMessages.missingOn,
          device.span,
          { device: referenceText(device), stage: name.name },
        ),
      );
    }
    return {
      kind: 'StageDeclaration',
      name,
      ...(device ? { device } : {}),
      layers: this.stageLayers(c, span.end),
      span,
    };
  }

  /** The layers in source order; those written without a comma before them are reported. */
  private stageLayers(c: cst.StageDeclarationCstChildren, fallback: number): ast.LayerReference[] {
    const unseparated = new Set<cst.LayerReferenceCstNode>(all(c.unseparatedLayer));
    const nodes = [...all(c.layerReference), ...unseparated].map((node) => ({ node, layer: this.layerReference(node, fallback) }));
    nodes.sort((a, b) => a.layer.span.start - b.layer.span.start);
    nodes.forEach(({ node, layer }, index) => {
      const previous = nodes[index - 1];
      // A recovered, empty name is the remnant of another syntax error, already reported.
      if (!unseparated.has(node) || previous === undefined || previous.layer.base.name === '' || layer.base.name === '') return;
      this.diagnostics.push(
        makeDiagnostic(
          diagnosticMessages.missingComma,
          layer.span,
          { what: 'layers', previous: referenceText(previous.layer), next: referenceText(layer) },
          { hint: 'separate the layers of a stage with commas: s0 on gpu[0] = a, b, c[0..2]' },
        ),
      );
    });
    return nodes.map(({ layer }) => layer);
  }

  private layerReference(node: cst.LayerReferenceCstNode, fallback: number): ast.LayerReference {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    const base = this.identifier(first(c.base), span.start);
    if (c.LBracket === undefined) return { kind: 'LayerReference', base, span };
    return { kind: 'LayerReference', base, index: this.maybeRange(first(c.from), c.DotDot, first(c.to), span.end), span };
  }

  private scheduleUse(node: cst.ScheduleUseCstNode, fallback: number): ast.ScheduleUse {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'ScheduleUse',
      name: this.identifier(first(node.children.name), span.end),
      args: this.argumentList(first(node.children.argumentList), span.end),
      span,
    };
  }

  /** The stages in source order; those written without a comma before them are reported. */
  private stageAttribute(node: cst.StageAttributeCstNode, fallback: number): ast.StageAttribute {
    const span = this.nodeSpan(node, fallback);
    const attribute = node.children.Offload ? 'offload' : node.children.Frozen ? 'frozen' : 'recompute';
    const unseparated = new Set<IToken>(all(node.children.unseparatedStage));
    const tokens = [...all(node.children.stage), ...unseparated].filter(isRealToken).sort((a, b) => a.startOffset - b.startOffset);
    tokens.forEach((token, index) => {
      const previous = tokens[index - 1];
      if (!unseparated.has(token) || previous === undefined) return;
      this.diagnostics.push(
        makeDiagnostic(
          diagnosticMessages.missingComma,
          this.tokenSpan(token),
          { what: 'stages', previous: previous.image, next: token.image },
          { hint: `separate the stages with commas: ${attribute} ${tokens.map((t) => t.image).join(', ')}` },
        ),
      );
    });
    return {
      kind: 'StageAttribute',
      attribute,
      stages: tokens.map((token) => this.identifier(token, span.end)),
      span,
    };
  }

  // ── schedules ───────────────────────────────────────────────────────
  private scheduleDeclaration(node: cst.ScheduleDeclarationCstNode): ast.ScheduleDeclaration {
    const span = this.nodeSpan(node, 0);
    const c = node.children;
    const body: ast.ScheduleStatement[] = [];
    for (const statement of all(c.scheduleStatement)) {
      const s = statement.children;
      const letNode = first(s.letStatement);
      const onDevice = first(s.onDeviceBlock);
      const split = first(s.splitBackwardRule);
      const limit = first(s.limitRule);
      const priority = first(s.priorityRule);
      const memory = first(s.memoryRule);
      const requires = first(s.requiresRule);
      if (letNode) body.push(this.letStatement(letNode, span.end));
      else if (onDevice) body.push(this.onDeviceBlock(onDevice, span.end));
      else if (split) body.push({ kind: 'SplitBackwardRule', span: this.nodeSpan(split, span.end) });
      else if (limit) body.push(this.limitRule(limit, span.end));
      else if (priority) body.push(this.priorityRule(priority, span.end));
      else if (memory) body.push(this.memoryRule(memory, span.end));
      else if (requires) body.push(this.requiresRule(requires, span.end));
    }
    return {
      kind: 'ScheduleDeclaration',
      name: this.identifier(first(c.name), span.start),
      params: all(c.scheduleParameter).map((p) => this.scheduleParameter(p, span.start)),
      body,
      span,
    };
  }

  private scheduleParameter(node: cst.ScheduleParameterCstNode, fallback: number): ast.ScheduleParameter {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'ScheduleParameter',
      name: this.identifier(first(node.children.name), span.start),
      ...(node.children.Assign ? { default: this.expression(first(node.children.default), span.end) } : {}),
      span,
    };
  }

  private letStatement(node: cst.LetStatementCstNode, fallback: number): ast.LetStatement {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'LetStatement',
      name: this.identifier(first(node.children.name), span.start),
      value: this.expression(first(node.children.value), span.end),
      span,
    };
  }

  private onDeviceBlock(node: cst.OnDeviceBlockCstNode, fallback: number): ast.OnDeviceBlock {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'OnDeviceBlock',
      variable: this.identifier(first(node.children.variable), span.start),
      body: this.orderBlock(first(node.children.orderBlock), span.end),
      span,
    };
  }

  private orderBlock(node: cst.OrderBlockCstNode | undefined, fallback: number): ast.OrderStatement[] {
    const statements: ast.OrderStatement[] = [];
    for (const statement of all(node?.children.orderStatement)) {
      const s = statement.children;
      const letNode = first(s.letStatement);
      const forNode = first(s.forStatement);
      const ifNode = first(s.ifStatement);
      const overlap = first(s.overlapStatement);
      const action = first(s.actionStatement);
      if (letNode) statements.push(this.letStatement(letNode, fallback));
      else if (forNode) statements.push(this.forStatement(forNode, fallback));
      else if (ifNode) statements.push(this.ifStatement(ifNode, fallback));
      else if (overlap) statements.push(this.overlapStatement(overlap, fallback));
      else if (action) statements.push(this.actionStatement(action, fallback));
    }
    return statements;
  }

  private operation(token: IToken | undefined): ast.ActionLetter {
    if (isRealToken(token) && actionOperations.has(token.image)) return token.image as ast.ActionLetter;
    if (isRealToken(token)) {
      this.diagnostics.push(makeDiagnostic(diagnosticMessages.unknownAction, this.tokenSpan(token), { name: token.image }));
    }
    // The mistake is reported; F keeps the rest of the tree usable.
    return 'F';
  }

  private actionStatement(node: cst.ActionStatementCstNode, fallback: number): ast.ActionStatement {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    return {
      kind: 'ActionStatement',
      operation: this.operation(first(c.operation)),
      microbatch: this.maybeRange(first(c.from), c.DotDot, first(c.to), span.end),
      ...(c.Comma ? { chunk: this.expression(first(c.chunk), span.end) } : {}),
      span,
    };
  }

  private forStatement(node: cst.ForStatementCstNode, fallback: number): ast.ForStatement {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'ForStatement',
      variable: this.identifier(first(node.children.variable), span.start),
      range: this.rangeExpression(first(node.children.rangeExpression), span.end),
      body: this.orderBlock(first(node.children.orderBlock), span.end),
      span,
    };
  }

  private ifStatement(node: cst.IfStatementCstNode, fallback: number): ast.IfStatement {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    const elseIf = first(c.elseIf);
    let otherwise: ast.OrderStatement[] | undefined;
    if (elseIf) otherwise = [this.ifStatement(elseIf, span.end)];
    else if (c.Else) otherwise = this.orderBlock(first(c.otherwise), span.end);
    return {
      kind: 'IfStatement',
      condition: this.expression(first(c.condition), span.start),
      then: this.orderBlock(first(c.then), span.end),
      ...(otherwise ? { otherwise } : {}),
      span,
    };
  }

  private overlapStatement(node: cst.OverlapStatementCstNode, fallback: number): ast.OverlapStatement {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'OverlapStatement',
      body: all(node.children.actionStatement).map((a) => this.actionStatement(a, span.end)),
      span,
    };
  }

  private limitRule(node: cst.LimitRuleCstNode, fallback: number): ast.LimitRule {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    return {
      kind: 'LimitRule',
      resource: this.identifier(first(c.resource), span.start),
      bound: this.expression(first(c.bound), span.end),
      ...(c.Per ? { per: this.identifier(first(c.per), span.end) } : {}),
      span,
    };
  }

  private memoryRule(node: cst.MemoryRuleCstNode, fallback: number): ast.MemoryRule {
    const span = this.nodeSpan(node, fallback);
    const c = node.children;
    return {
      kind: 'MemoryRule',
      action: c.Offload ? 'offload' : 'recompute',
      trigger: this.identifier(first(c.trigger), span.start),
      value: this.expression(first(c.value), span.end),
      span,
    };
  }

  private priorityRule(node: cst.PriorityRuleCstNode, fallback: number): ast.PriorityRule {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'PriorityRule',
      terms: all(node.children.priorityTerm).map((term) => {
        const termSpan = this.nodeSpan(term, span.end);
        return {
          kind: 'PriorityTerm',
          operation: this.operation(first(term.children.operation)),
          ...(term.children.LBracket ? { chunk: this.expression(first(term.children.chunk), termSpan.end) } : {}),
          span: termSpan,
        } satisfies ast.PriorityTerm;
      }),
      span,
    };
  }

  private requiresRule(node: cst.RequiresRuleCstNode, fallback: number): ast.RequiresRule | ast.RequiresCondition {
    const span = this.nodeSpan(node, fallback);
    const condition = first(node.children.condition);
    if (condition !== undefined) {
      const message = first(node.children.message);
      return {
        kind: 'RequiresCondition',
        condition: this.expression(condition, span.end),
        ...(isRealToken(message) ? { message: this.stringLiteral(message, span.end) } : {}),
        span,
      };
    }
    const value = first(node.children.value);
    return {
      kind: 'RequiresRule',
      what: this.identifier(first(node.children.what), span.end),
      ...(isRealToken(value) ? { value: this.identifier(value, span.end) } : {}),
      span,
    };
  }

  // ── shared pieces ───────────────────────────────────────────────────
  private argumentList(node: cst.ArgumentListCstNode | undefined, fallback: number): ast.Argument[] {
    return all(node?.children.argument).map((argument) => {
      const span = this.nodeSpan(argument, fallback);
      const name = first(argument.children.name);
      return {
        kind: 'Argument',
        ...(argument.children.Colon ? { name: this.identifier(name, span.start) } : {}),
        value: this.expression(first(argument.children.value), span.end),
        span,
      };
    });
  }

  private rangeExpression(node: cst.RangeExpressionCstNode | undefined, fallback: number): ast.RangeExpression {
    const span = this.nodeSpan(node, fallback);
    return {
      kind: 'RangeExpression',
      from: this.expression(first(node?.children.from), span.start),
      to: this.expression(first(node?.children.to), span.end),
      span,
    };
  }

  /** `e` or `e..e` inside brackets (layer references, device references, actions). */
  private maybeRange(
    from: cst.ExpressionCstNode | undefined,
    dotDot: readonly IToken[] | undefined,
    to: cst.ExpressionCstNode | undefined,
    fallback: number,
  ): ast.Expression | ast.RangeExpression {
    const start = this.expression(from, fallback);
    if (dotDot === undefined) return start;
    const end = this.expression(to, start.span.end);
    return { kind: 'RangeExpression', from: start, to: end, span: this.span(start.span.start, Math.max(start.span.end, end.span.end)) };
  }

  private expressionList(node: cst.ExpressionListCstNode | undefined, fallback: number): ast.Expression[] {
    return all(node?.children.expression).map((e) => this.expression(e, fallback));
  }

  // ── expressions ─────────────────────────────────────────────────────
  private expression(node: cst.ExpressionCstNode | undefined, fallback: number): ast.Expression {
    this.expressionNesting++;
    try {
      const built = this.expressionTree(node, fallback);
      if (this.expressionNesting > 1) return built;
      // Checked once per outermost expression: every evaluator and printer recurses on this depth.
      const depth = expressionDepth(built);
      if (depth <= MAX_EXPRESSION_DEPTH) return built;
      this.diagnostics.push(makeDiagnostic(diagnosticMessages.nestedTooDeeply, built.span, { what: 'this expression is', depth, limit: MAX_EXPRESSION_DEPTH }));
      return this.missingExpression(built.span.start);
    } finally {
      this.expressionNesting--;
    }
  }

  private expressionTree(node: cst.ExpressionCstNode | undefined, fallback: number): ast.Expression {
    const or = first(node?.children.orExpression);
    if (or === undefined) return this.missingExpression(fallback);
    return this.binaryChain(or, fallback, (n, f) =>
      this.binaryChain(n as cst.AndExpressionCstNode, f, (n2, f2) =>
        this.binaryChain(n2 as cst.EqualityExpressionCstNode, f2, (n3, f3) =>
          this.binaryChain(n3 as cst.ComparisonExpressionCstNode, f3, (n4, f4) =>
            this.binaryChain(n4 as cst.AdditiveExpressionCstNode, f4, (n5, f5) =>
              this.binaryChain(n5 as cst.MultiplicativeExpressionCstNode, f5, (n6, f6) =>
                this.unaryExpression(n6 as cst.UnaryExpressionCstNode, f6),
              ),
            ),
          ),
        ),
      ),
    );
  }

  /** Left-associative `operand (operator operand)*`, the shape of every binary level. */
  private binaryChain(
    node: CstNode,
    fallback: number,
    operand: (node: CstNode, fallback: number) => ast.Expression,
  ): ast.Expression {
    const operands = (node.children.operand ?? []) as CstNode[];
    const operators = (node.children.operator ?? []) as IToken[];
    let left = operands[0] ? operand(operands[0], fallback) : this.missingExpression(fallback);
    for (let i = 0; i < operators.length; i++) {
      const operatorToken = operators[i];
      if (!isRealToken(operatorToken)) break;
      const rightNode = operands[i + 1];
      const right = rightNode ? operand(rightNode, tokenEnd(operatorToken)) : this.missingExpression(tokenEnd(operatorToken));
      left = {
        kind: 'BinaryExpression',
        operator: operatorToken.image as ast.BinaryOperator,
        left,
        right,
        span: this.span(left.span.start, Math.max(right.span.end, tokenEnd(operatorToken))),
      };
    }
    return left;
  }

  private unaryExpression(node: cst.UnaryExpressionCstNode, fallback: number): ast.Expression {
    const c = node.children;
    const operatorToken = first(c.operator);
    if (isRealToken(operatorToken)) {
      const operand = first(c.operand);
      const inner = operand ? this.unaryExpression(operand, tokenEnd(operatorToken)) : this.missingExpression(tokenEnd(operatorToken));
      return {
        kind: 'UnaryExpression',
        operator: operatorToken.image === '!' ? '!' : '-',
        operand: inner,
        span: this.span(operatorToken.startOffset, Math.max(inner.span.end, tokenEnd(operatorToken))),
      };
    }
    const primary = first(c.primaryExpression);
    if (primary === undefined) {
      const operand = first(c.operand);
      return operand ? this.unaryExpression(operand, fallback) : this.missingExpression(fallback);
    }
    return this.primaryExpression(primary, fallback);
  }

  private primaryExpression(node: cst.PrimaryExpressionCstNode, fallback: number): ast.Expression {
    const c = node.children;
    const span = this.nodeSpan(node, fallback);
    const numberToken = first(c.NumberLiteral);
    if (isRealToken(numberToken)) {
      return { kind: 'NumberLiteral', value: Number(numberToken.image), text: numberToken.image, span: this.tokenSpan(numberToken) };
    }
    const quantityToken = first(c.QuantityLiteral);
    if (isRealToken(quantityToken)) return this.quantity(quantityToken);
    const stringToken = first(c.StringLiteral);
    if (stringToken !== undefined) return this.stringLiteral(stringToken, span.start);
    if (isRealToken(first(c.True))) return { kind: 'BooleanLiteral', value: true, span };
    if (isRealToken(first(c.False))) return { kind: 'BooleanLiteral', value: false, span };
    const nameToken = first(c.PlainName);
    if (nameToken !== undefined) {
      const name = this.identifier(nameToken, span.start);
      const argumentList = first(c.argumentList);
      if (argumentList !== undefined) {
        return { kind: 'CallExpression', callee: name, args: this.argumentList(argumentList, span.end), span };
      }
      return { kind: 'NameExpression', name, span: name.span };
    }
    if (c.LParen !== undefined) {
      return { kind: 'ParenthesizedExpression', expression: this.expression(first(c.expression), span.end), span };
    }
    return this.missingExpression(fallback);
  }

  private quantity(token: IToken): ast.QuantityLiteral {
    const match = /^(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(.*)$/.exec(token.image);
    const number = match?.[1] ?? '0';
    return {
      kind: 'QuantityLiteral',
      value: Number(number),
      unit: match?.[2] ?? '',
      text: token.image,
      span: this.tokenSpan(token),
    };
  }

  private stringLiteral(token: IToken | undefined, fallback: number): ast.StringLiteral {
    if (!isRealToken(token)) return { kind: 'StringLiteral', value: '', span: this.span(fallback, fallback) };
    const raw = token.image;
    const closed = raw.length >= 2 && raw.endsWith('"') && token.tokenType.name === 'TerminatedString';
    const body = raw.slice(1, closed ? -1 : undefined);
    return { kind: 'StringLiteral', value: this.unescape(body, token.startOffset + 1), span: this.tokenSpan(token) };
  }

  private unescape(body: string, bodyOffset: number): string {
    let value = '';
    for (let i = 0; i < body.length; i++) {
      const char = body[i];
      if (char !== '\\') {
        value += char;
        continue;
      }
      const next = body[i + 1];
      if (next === undefined) break;
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', '0': '\0' };
      if (Object.hasOwn(simple, next)) {
        value += simple[next];
        i++;
        continue;
      }
      if (next === 'u') {
        const braced = /^u\{([0-9A-Fa-f]{1,6})\}/.exec(body.slice(i + 1));
        const plain = /^u([0-9A-Fa-f]{4})/.exec(body.slice(i + 1));
        const match = braced ?? plain;
        const codePoint = match ? Number.parseInt(match[1], 16) : Number.NaN;
        if (match && codePoint <= 0x10ffff) {
          value += String.fromCodePoint(codePoint);
          i += match[0].length;
          continue;
        }
      }
      this.diagnostics.push(
        makeDiagnostic(diagnosticMessages.invalidEscape, this.span(bodyOffset + i, bodyOffset + i + 2), { character: next }),
      );
      value += next;
      i++;
    }
    return value;
  }
}
