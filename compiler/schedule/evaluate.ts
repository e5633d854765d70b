// evaluateSchedule: a schedule declaration + a pipeline shape → the compute
// order per device. Two forms (grammar/ast.ts):
//  - explicit: `on device d { ... }` runs once per device with d bound and
//    appends actions (F[i], B[0..w], I[i, c] where chunk c is the c-th
//    lowest-numbered stage on the device; `overlap { ... }` groups);
//  - rules: `split backward`, `limit activations <= EXPR [per device]`
//    (EXPR may use d), `priority I > F[1] > F[0] > W`, handed to the list
//    scheduler (listScheduler.ts) with the cost model (unit costs by default).
// Both forms may use top-level `let`s and `requires placement loop|v`.
// Evaluation problems are diagnostics at the offending expression.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type {
  ActionStatement,
  LimitRule,
  OrderStatement,
  PriorityRule,
  RequiresRule,
  ScheduleDeclaration,
} from '../../grammar/ast.ts';
import { unitCostModel, type CostModel } from '../cost/types.ts';
import { scheduleMessages } from '../messages/schedules.ts';
import type { ArgumentValue } from '../program.ts';
import { ExpressionEvaluator, Scope } from './expressions.ts';
import { listSchedule, type PriorityClass } from './listScheduler.ts';
import { placeStages, type ComputeAction, type ComputeSchedule, type PipelineShape } from './types.ts';

export interface EvaluateOptions {
  readonly costs?: CostModel;
  /** Source texts by file name, to quote expressions in messages. */
  readonly sources?: ReadonlyMap<string, string>;
}

export interface EvaluatedSchedule {
  readonly schedule?: ComputeSchedule;
  readonly diagnostics: Diagnostic[];
}

const RESERVED = new Set(['p', 'm', 'v', 'n']);

/** The placement a declaration requires (`requires placement v`), if any. */
export function requiredPlacement(declaration: ScheduleDeclaration): 'loop' | 'v' | undefined {
  for (const statement of declaration.body) {
    if (statement.kind === 'RequiresRule' && statement.what.name === 'placement') {
      const value = statement.value?.name;
      if (value === 'v' || value === 'loop') return value;
    }
  }
  return undefined;
}

export function evaluateSchedule(
  declaration: ScheduleDeclaration,
  shape: PipelineShape,
  args: Readonly<Record<string, ArgumentValue>>,
  options: EvaluateOptions = {},
): EvaluatedSchedule {
  const diagnostics: Diagnostic[] = [];
  const source = options.sources?.get(declaration.span.file);
  const evaluator = new ExpressionEvaluator(diagnostics, source ? (start, end) => source.slice(start, end) : undefined);
  const name = declaration.name.name;
  const finish = (schedule?: ComputeSchedule): EvaluatedSchedule => ({ schedule: diagnostics.some((d) => d.severity === 'error') ? undefined : schedule, diagnostics: dedupe(diagnostics) });

  if (shape.devices < 1 || shape.microbatches < 1 || shape.stages < 1) {
    diagnostics.push(makeDiagnostic(scheduleMessages.badShape, declaration.name.span, { detail: `a pipeline needs at least one device, stage and microbatch (got p=${shape.devices}, n=${shape.stages}, m=${shape.microbatches})` }));
    return finish();
  }

  // Global scope: the shape, then parameters (arguments or defaults).
  const global = new Scope();
  global.set('p', shape.devices);
  global.set('m', shape.microbatches);
  global.set('n', shape.stages);
  global.set('v', shape.stages / shape.devices);
  const declared = new Set(declaration.params.map((param) => param.name.name));
  for (const [key, value] of Object.entries(args)) {
    if (key === 'v' && typeof value === 'number' && value * shape.devices === shape.stages) continue;
    if (!declared.has(key) || RESERVED.has(key)) {
      diagnostics.push(makeDiagnostic(scheduleMessages.unknownArgument, declaration.name.span, { schedule: name, name: key }));
    }
  }
  for (const param of declaration.params) {
    const key = param.name.name;
    if (RESERVED.has(key)) continue;
    const given = args[key];
    if (given !== undefined) {
      if (typeof given === 'string') {
        diagnostics.push(makeDiagnostic(scheduleMessages.notAnInteger, param.span, { expression: key, value: given, what: 'a schedule argument' }));
      } else global.set(key, given);
    } else if (param.default) {
      const value = evaluator.evaluate(param.default, global);
      if (value !== undefined) global.set(key, value);
    } else {
      diagnostics.push(makeDiagnostic(scheduleMessages.missingArgument, param.span, { schedule: name, name: key }));
    }
  }

  // Form and rules.
  const explicit = declaration.body.filter((s) => s.kind === 'OnDeviceBlock');
  const rules = declaration.body.filter((s) => s.kind === 'SplitBackwardRule' || s.kind === 'LimitRule' || s.kind === 'PriorityRule');
  if (explicit.length > 0 && rules.length > 0) {
    diagnostics.push(makeDiagnostic(scheduleMessages.mixedForms, rules[0].span));
    return finish();
  }
  for (const statement of declaration.body) {
    if (statement.kind === 'LetStatement') {
      const value = evaluator.evaluate(statement.value, global);
      if (value !== undefined) global.set(statement.name.name, value);
    } else if (statement.kind === 'RequiresRule') {
      checkRequirement(statement, shape, name, diagnostics);
    }
  }
  if (hasError(diagnostics)) return finish();

  // Chunks: the stages of each device, lowest first.
  const deviceStages: number[][] = Array.from({ length: shape.devices }, () => []);
  shape.stageDevice.forEach((device, stage) => deviceStages[device]?.push(stage));

  if (explicit.length > 0) {
    const orders: ComputeAction[][] = Array.from({ length: shape.devices }, () => []);
    const interpreter = new OrderInterpreter(evaluator, shape, deviceStages, diagnostics);
    for (const block of explicit) {
      if (block.kind !== 'OnDeviceBlock') continue;
      for (let d = 0; d < shape.devices; d++) {
        const scope = new Scope(global);
        scope.set(block.variable.name, d);
        if (!interpreter.run(block.body, scope, d, orders[d])) return finish();
      }
    }
    const splitBackward = orders.some((order) => order.some((action) => action.operation === 'I' || action.operation === 'W'));
    return finish({ ...shape, name, splitBackward, orders });
  }

  if (rules.length === 0) {
    diagnostics.push(makeDiagnostic(scheduleMessages.emptyBody, declaration.name.span, { schedule: name }));
    return finish();
  }
  const splitBackward = rules.some((rule) => rule.kind === 'SplitBackwardRule');
  const limits = new Array<number>(shape.devices).fill(Number.POSITIVE_INFINITY);
  const priority: PriorityClass[] = [];
  for (const rule of rules) {
    if (rule.kind === 'LimitRule') applyLimit(rule, evaluator, global, limits, diagnostics);
    else if (rule.kind === 'PriorityRule') readPriority(rule, evaluator, global, priority);
  }
  if (hasError(diagnostics)) return finish();
  const costs = options.costs ?? unitCostModel(shape.stages);
  const result = listSchedule(shape, { splitBackward, activationLimit: limits, priority, span: declaration.name.span }, costs);
  if (!result.ok) {
    const limitRule = rules.find((rule) => rule.kind === 'LimitRule');
    diagnostics.push(makeDiagnostic(scheduleMessages.limitTooTight, (limitRule ?? declaration.name).span, { detail: result.detail }));
    return finish();
  }
  return finish({ ...shape, name, splitBackward, orders: result.orders });
}

function checkRequirement(rule: RequiresRule, shape: PipelineShape, schedule: string, diagnostics: Diagnostic[]): void {
  const what = rule.what.name;
  const value = rule.value?.name;
  if (what === 'placement' && (value === 'v' || value === 'loop')) {
    const perDevice = shape.stages / shape.devices;
    const expected = Number.isInteger(perDevice) ? placeStages(value, shape.devices, perDevice) : undefined;
    const matches = expected !== undefined && expected.every((device, stage) => shape.stageDevice[stage] === device);
    if (!matches) {
      diagnostics.push(makeDiagnostic(scheduleMessages.placementMismatch, rule.span, { schedule, required: value, actual: describePlacement(shape) }));
    }
    return;
  }
  diagnostics.push(makeDiagnostic(scheduleMessages.unknownRequirement, rule.span, { what: value ? `${what} ${value}` : what }));
}

function describePlacement(shape: PipelineShape): string {
  const perDevice = shape.stages / shape.devices;
  if (Number.isInteger(perDevice)) {
    for (const style of ['loop', 'v'] as const) {
      if (placeStages(style, shape.devices, perDevice).every((device, stage) => shape.stageDevice[stage] === device)) return style;
    }
  }
  return `as [${shape.stageDevice.join(', ')}]`;
}

function applyLimit(rule: LimitRule, evaluator: ExpressionEvaluator, global: Scope, limits: number[], diagnostics: Diagnostic[]): void {
  if (rule.resource.name !== 'activations') {
    diagnostics.push(makeDiagnostic(scheduleMessages.unknownResource, rule.resource.span, { name: rule.resource.name }));
    return;
  }
  for (let d = 0; d < limits.length; d++) {
    const scope = new Scope(global);
    scope.set('d', d);
    const bound = evaluator.evaluate(rule.bound, scope);
    if (bound === undefined) return;
    if (typeof bound !== 'number') {
      diagnostics.push(makeDiagnostic(scheduleMessages.notAnInteger, rule.bound.span, { expression: 'the limit', value: String(bound), what: 'an activation limit' }));
      return;
    }
    limits[d] = Math.min(limits[d], Math.floor(bound));
  }
}

function readPriority(rule: PriorityRule, evaluator: ExpressionEvaluator, global: Scope, priority: PriorityClass[]): void {
  for (const term of rule.terms) {
    if (term.chunk) {
      const chunk = evaluator.integer(term.chunk, global, 'a chunk');
      if (chunk === undefined) return;
      priority.push({ operation: term.operation, chunk });
    } else priority.push({ operation: term.operation });
  }
}

/** Runs order statements for one device, appending to its order. */
class OrderInterpreter {
  private readonly evaluator: ExpressionEvaluator;
  private readonly shape: PipelineShape;
  private readonly deviceStages: readonly (readonly number[])[];
  private readonly diagnostics: Diagnostic[];
  private nextGroup = 0;

  constructor(evaluator: ExpressionEvaluator, shape: PipelineShape, deviceStages: readonly (readonly number[])[], diagnostics: Diagnostic[]) {
    this.evaluator = evaluator;
    this.shape = shape;
    this.deviceStages = deviceStages;
    this.diagnostics = diagnostics;
  }

  /** False once an error was reported (the caller stops). */
  run(statements: readonly OrderStatement[], scope: Scope, device: number, order: ComputeAction[]): boolean {
    for (const statement of statements) {
      switch (statement.kind) {
        case 'LetStatement': {
          const value = this.evaluator.evaluate(statement.value, scope);
          if (value === undefined) return false;
          scope.set(statement.name.name, value);
          break;
        }
        case 'ActionStatement':
          if (!this.action(statement, scope, device, order, undefined)) return false;
          break;
        case 'ForStatement': {
          const range = this.evaluator.range(statement.range, scope);
          if (!range) return false;
          for (let i = range[0]; i < range[1]; i++) {
            const inner = new Scope(scope);
            inner.set(statement.variable.name, i);
            if (!this.run(statement.body, inner, device, order)) return false;
          }
          break;
        }
        case 'IfStatement': {
          const condition = this.evaluator.condition(statement.condition, scope);
          if (condition === undefined) return false;
          const branch = condition ? statement.then : statement.otherwise;
          if (branch && !this.run(branch, new Scope(scope), device, order)) return false;
          break;
        }
        case 'OverlapStatement': {
          const group = this.nextGroup++;
          for (const action of statement.body) if (!this.action(action, scope, device, order, group)) return false;
          break;
        }
      }
    }
    return true;
  }

  private action(statement: ActionStatement, scope: Scope, device: number, order: ComputeAction[], group: number | undefined): boolean {
    const chunks = this.deviceStages[device];
    let chunk = 0;
    if (statement.chunk) {
      const value = this.evaluator.integer(statement.chunk, scope, 'a chunk');
      if (value === undefined) return false;
      chunk = value;
    }
    if (chunk < 0 || chunk >= chunks.length) {
      this.diagnostics.push(makeDiagnostic(scheduleMessages.chunkOutOfRange, (statement.chunk ?? statement).span, { device, chunks: chunks.length, chunk }));
      return false;
    }
    const stage = chunks[chunk];
    let from: number;
    let to: number;
    if (statement.microbatch.kind === 'RangeExpression') {
      const range = this.evaluator.range(statement.microbatch, scope);
      if (!range) return false;
      [from, to] = range;
    } else {
      const value = this.evaluator.integer(statement.microbatch, scope, 'a microbatch');
      if (value === undefined) return false;
      from = value;
      to = value + 1;
    }
    if (from < 0 || to > this.shape.microbatches) {
      const bad = from < 0 ? from : to - 1;
      this.diagnostics.push(makeDiagnostic(scheduleMessages.microbatchOutOfRange, statement.microbatch.span, { microbatch: bad, microbatches: this.shape.microbatches }));
      return false;
    }
    for (let i = from; i < to; i++) {
      order.push(
        group === undefined
          ? { operation: statement.operation, stage, microbatch: i, span: statement.span }
          : { operation: statement.operation, stage, microbatch: i, span: statement.span, overlapGroup: group },
      );
    }
    return true;
  }
}

function hasError(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** A loop repeats the same mistake; report each (code, place) once. */
function dedupe(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.code}:${d.span.file}:${d.span.start}:${d.span.end}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
