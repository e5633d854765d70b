// A generic AST walk driven by a table of child keys (as in graphql-js), so
// passes that look for one kind of node need not know every other kind.

import type * as ast from './ast.ts';

type Kind = ast.Node['kind'];

/** For each node kind, the fields that hold child nodes, in source order. */
export const childKeys: Readonly<Record<Kind, readonly string[]>> = {
  Identifier: [],
  NumberLiteral: [],
  QuantityLiteral: [],
  StringLiteral: [],
  BooleanLiteral: [],
  NameExpression: ['name'],
  BinaryExpression: ['left', 'right'],
  UnaryExpression: ['operand'],
  CallExpression: ['callee', 'args'],
  ParenthesizedExpression: ['expression'],
  RangeExpression: ['from', 'to'],
  Argument: ['name', 'value'],
  Document: ['imports', 'declarations', 'comments'],
  Comment: [],
  ImportDeclaration: ['path'],
  ModelDeclaration: ['name', 'members'],
  DimDeclaration: ['name', 'value'],
  TensorType: ['dtype', 'dims'],
  TensorDeclaration: ['name', 'type'],
  LayerName: ['base', 'index'],
  LayerDeclaration: ['name', 'operator', 'args'],
  RepeatBlock: ['variable', 'range', 'body'],
  ResidualBlock: ['name', 'body'],
  LossDeclaration: ['function', 'args'],
  ExternLayerDeclaration: ['name', 'params', 'inputDims', 'outputDims', 'path', 'cost'],
  TypedParameter: ['name', 'type', 'default'],
  ClusterDeclaration: ['name', 'members'],
  Property: ['key', 'value'],
  DeviceDeclaration: ['name', 'range', 'properties'],
  DeviceReference: ['base', 'index'],
  WildcardIndex: [],
  LinkDeclaration: ['from', 'to', 'properties'],
  PipelineDeclaration: ['name', 'members'],
  PipelineSetting: ['key', 'value'],
  StagesBlock: ['placement', 'stages'],
  StageDeclaration: ['name', 'device', 'layers'],
  LayerReference: ['base', 'index'],
  AutoStages: ['count', 'balance', 'placement'],
  ScheduleUse: ['name', 'args'],
  StageAttribute: ['stages'],
  ScheduleDeclaration: ['name', 'params', 'body'],
  ScheduleParameter: ['name', 'default'],
  LetStatement: ['name', 'value'],
  OnDeviceBlock: ['variable', 'body'],
  ActionStatement: ['microbatch', 'chunk'],
  ForStatement: ['variable', 'range', 'body'],
  IfStatement: ['condition', 'then', 'otherwise'],
  OverlapStatement: ['body'],
  SplitBackwardRule: [],
  LimitRule: ['resource', 'bound', 'per'],
  PriorityRule: ['terms'],
  PriorityTerm: ['chunk'],
  MemoryRule: ['trigger', 'value'],
  RequiresRule: ['what', 'value'],
  RequiresCondition: ['condition', 'message'],
};

export interface Visitor {
  /** Return false to skip the node's children. */
  enter?(node: ast.Node, parent: ast.Node | undefined): boolean | void;
  leave?(node: ast.Node, parent: ast.Node | undefined): void;
}

/** The direct children of a node, in the order of its child keys. */
export function childrenOf(node: ast.Node): ast.Node[] {
  const children: ast.Node[] = [];
  const record = node as unknown as Readonly<Record<string, unknown>>;
  for (const key of childKeys[node.kind]) {
    const value = record[key];
    if (Array.isArray(value)) children.push(...(value as ast.Node[]));
    else if (value !== undefined && value !== null) children.push(value as ast.Node);
  }
  return children;
}

/** Depth-first walk calling `enter` before and `leave` after each node's children. */
export function visit(root: ast.Node, visitor: Visitor): void {
  const walk = (node: ast.Node, parent: ast.Node | undefined): void => {
    if (visitor.enter?.(node, parent) === false) return;
    for (const child of childrenOf(node)) walk(child, node);
    visitor.leave?.(node, parent);
  };
  walk(root, undefined);
}
