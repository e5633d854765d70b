// evaluateSchedule: a schedule declaration + a pipeline shape → the compute
// order per device. Two forms (grammar/ast.ts):
//  - explicit: `on device d { ... }` runs once per device with d bound and
//    appends actions (F[i], B[0..w], I[i, c] where chunk c is the c-th
//    lowest-numbered stage on the device; `overlap { ... }` groups);
//  - rules: `split backward`, `limit activations <= EXPR [per device]`
//    (EXPR may use d), `priority I > F[1] > F[0] > W`, and the memory rules
//    `recompute when live > K`, `offload ratio R` (K may use d), handed to
//    the list scheduler (listScheduler.ts) with the cost model (unit costs
//    by default).
// Both forms may use top-level `let`s and state a contract (`requires
// placement KIND`, `requires v == 2`, `requires m >= 2 * p "..."`; see
// contract.ts), checked before anything else is evaluated.
// Evaluation problems are diagnostics at the offending expression.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type {
  ActionStatement,
  LimitRule,
  MemoryRule,
  OrderStatement,
  PriorityRule,
  RequiresRule,
  ScheduleDeclaration,
} from '../../grammar/ast.ts';
import { listPlacementKinds } from '../placement.ts';
import type { Span } from '../../grammar/source.ts';
import { unitCostModel, type CostModel } from '../cost/types.ts';
import type { ArgumentValue } from '../program.ts';
import { EvaluationStop, ExpressionCompiler, Symbols, truthy, type Slots, type Value } from './expressions.ts';
import { listSchedule, type MemoryTrigger, type PriorityClass } from './listScheduler.ts';
import { checkScheduleContract, contractShapeOf, isKnownRequirement, RESERVED_PARAMETERS, SHAPE_PARAMETERS } from './contract.ts';
import type { ComputeAction, ComputeOperation, ComputeSchedule, PipelineShape } from './types.ts';
import { isVocabShard, modelStageCount, vocabShardsOf } from './actions.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export { requiredPlacement } from './contract.ts';

export interface EvaluateOptions {
  readonly costs?: CostModel;
  /** Source texts by file name, to quote expressions in messages. */
  readonly sources?: ReadonlyMap<string, string>;
}

export interface EvaluatedSchedule {
  readonly schedule?: ComputeSchedule;
  readonly diagnostics: Diagnostic[];
}

const RESERVED: ReadonlySet<string> = new Set(RESERVED_PARAMETERS);

export function evaluateSchedule(
  declaration: ScheduleDeclaration,
  shape: PipelineShape,
  args: Readonly<Record<string, ArgumentValue>>,
  options: EvaluateOptions = {},
): EvaluatedSchedule {
  const diagnostics: Diagnostic[] = [];
  const compiler = new ExpressionCompiler(diagnostics, options.sources?.get(declaration.span.file));
  const finish = (schedule?: ComputeSchedule): EvaluatedSchedule => ({ schedule: hasError(diagnostics) ? undefined : schedule, diagnostics: dedupe(diagnostics) });

  if (shape.devices < 1 || shape.microbatches < 1 || shape.stages < 1) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.badShape, declaration.name.span, { detail: `a pipeline needs at least one device, stage and microbatch (got p=${shape.devices}, n=${shape.stages}, m=${shape.microbatches})` }));
    return finish();
  }
  try {
    return finish(evaluate(declaration, shape, args, options, compiler, diagnostics));
  } catch (error) {
    if (!(error instanceof EvaluationStop)) throw error;
    diagnostics.push(error.diagnostic);
    return finish();
  }
}

function evaluate(
  declaration: ScheduleDeclaration,
  shape: PipelineShape,
  args: Readonly<Record<string, ArgumentValue>>,
  options: EvaluateOptions,
  compiler: ExpressionCompiler,
  diagnostics: Diagnostic[],
): ComputeSchedule | undefined {
  const name = declaration.name.name;
  // Global scope: the shape, then parameters (arguments or defaults).
  const symbols = new Symbols();
  const slots: Slots = [];
  const bind = (key: string, value: Value) => {
    slots[symbols.define(key)] = value;
  };
  bind(SHAPE_PARAMETERS.devices, shape.devices);
  // m is every copy's microbatches together; F[i, c] numbers them per copy (0..m/copies-1).
  bind(SHAPE_PARAMETERS.microbatches, shape.microbatches * (shape.copies ?? 1));
  // n and v count the model's stages; a device's vocabulary shard (if any) is its chunk v.
  const modelStages = modelStageCount(shape);
  bind(SHAPE_PARAMETERS.stages, modelStages);
  bind(SHAPE_PARAMETERS.stagesPerDevice, modelStages / shape.devices);
  const declared = new Set(declaration.params.map((param) => param.name.name));
  for (const [key, value] of Object.entries(args)) {
    if (key === SHAPE_PARAMETERS.stagesPerDevice && typeof value === 'number' && value * shape.devices === modelStages) continue;
    if (!declared.has(key) || RESERVED.has(key)) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.unknownScheduleArgument, declaration.name.span, { schedule: name, name: key }));
    }
  }
  for (const param of declaration.params) {
    const key = param.name.name;
    if (RESERVED.has(key)) continue;
    const given = args[key];
    if (given !== undefined) {
      if (typeof given === 'string') {
        diagnostics.push(makeDiagnostic(diagnosticMessages.notAnInteger, param.span, { expression: key, value: given, what: 'a schedule argument' }));
      } else bind(key, given);
    } else if (param.default) {
      const compiled = compiler.compile(param.default, symbols);
      if (compiled) bind(key, compiled(slots));
    } else {
      diagnostics.push(makeDiagnostic(diagnosticMessages.missingScheduleArgument, param.span, { schedule: name, name: key }));
    }
  }

  if (hasError(diagnostics)) return undefined;

  // The contract holds before the body runs (a body written for other
  // shapes fails in ways that do not say what the schedule needs).
  for (const statement of declaration.body) {
    if (statement.kind === 'RequiresRule') checkRequirement(statement, diagnostics);
  }
  const contract = checkScheduleContract(declaration, contractShapeOf(shape), args, { sources: options.sources });
  diagnostics.push(...contract.diagnostics, ...contract.violations.map((violation) => violation.diagnostic));
  if (hasError(diagnostics)) return undefined;

  // Form and rules.
  const explicit = declaration.body.filter((s) => s.kind === 'OnDeviceBlock');
  const rules = declaration.body.filter((s) => s.kind === 'SplitBackwardRule' || s.kind === 'LimitRule' || s.kind === 'PriorityRule');
  const memoryRules = declaration.body.filter((s): s is MemoryRule => s.kind === 'MemoryRule');
  if (explicit.length > 0 && memoryRules.length > 0) {
    // An explicit order places its own R, O and L; nothing would apply the rule.
    for (const rule of memoryRules) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.memoryRuleInExplicitOrder, rule.span, { rule: memoryRuleText(rule, compiler), schedule: name }));
    }
    return undefined;
  }
  if (explicit.length > 0 && rules.length > 0) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.mixedForms, rules[0].span));
    return undefined;
  }
  for (const statement of declaration.body) {
    if (statement.kind === 'LetStatement') {
      const compiled = compiler.compile(statement.value, symbols);
      if (compiled) bind(statement.name.name, compiled(slots));
      else return undefined;
    }
  }
  if (hasError(diagnostics)) return undefined;

  // Chunks: the stages of each device, lowest first.
  const deviceStages: number[][] = Array.from({ length: shape.devices }, () => []);
  shape.stageDevice.forEach((device, stage) => deviceStages[device]?.push(stage));

  if (explicit.length > 0) {
    const orders: ComputeAction[][] = Array.from({ length: shape.devices }, () => []);
    const builder = new OrderCompiler(compiler, shape, deviceStages, name);
    for (const block of explicit) {
      if (block.kind !== 'OnDeviceBlock') continue;
      const inner = symbols.child();
      const deviceSlot = inner.define(block.variable.name);
      const run = builder.block(block.body, inner);
      if (!run) return undefined;
      for (let d = 0; d < shape.devices; d++) {
        slots[deviceSlot] = d;
        run(slots, d, orders[d]);
      }
    }
    // A stage with no action at all is a schedule written for another
    // shape; say so once rather than once per missing action.
    const seen = new Uint8Array(shape.stages);
    for (const order of orders) for (const action of order) seen[action.stage] = 1;
    const unrun = seen.indexOf(0);
    if (unrun >= 0 && isVocabShard(shape, unrun)) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.vocabShardNeverRun, declaration.name.span, { schedule: name, stage: unrun, chunk: modelStages / shape.devices }));
      return undefined;
    }
    if (unrun >= 0) {
      const device = shape.stageDevice[unrun];
      diagnostics.push(makeDiagnostic(diagnosticMessages.stageNeverRun, declaration.name.span, {
        schedule: name, stage: unrun, chunk: deviceStages[device].indexOf(unrun), device, perDevice: shape.stages / shape.devices,
      }));
      return undefined;
    }
    if (requiresSplit(declaration)) {
      for (let d = 0; d < orders.length; d++) {
        const full = orders[d].find((action) => action.operation === 'B');
        if (full) {
          diagnostics.push(makeDiagnostic(diagnosticMessages.splitRequired, full.span ?? declaration.name.span, { schedule: name, device: d, action: `${full.stage}B${full.microbatch}` }));
          return undefined;
        }
      }
    }
    const splitBackward = orders.some((order) => order.some((action) => action.operation === 'I' || action.operation === 'W'));
    return { ...shape, name, splitBackward, orders };
  }

  if (rules.length === 0 && memoryRules.length === 0 && !requiresSplit(declaration)) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.emptyBody, declaration.name.span, { schedule: name }));
    return undefined;
  }
  const splitBackward = rules.some((rule) => rule.kind === 'SplitBackwardRule') || requiresSplit(declaration);
  const limits = new Array<number>(shape.devices).fill(Number.POSITIVE_INFINITY);
  const stashLimits = new Array<number>(shape.devices).fill(Number.POSITIVE_INFINITY);
  const priority: PriorityClass[] = [];
  for (const rule of rules) {
    if (rule.kind === 'LimitRule') applyLimit(rule, compiler, symbols, slots, rule.resource.name === 'stash' ? stashLimits : limits, diagnostics);
    else if (rule.kind === 'PriorityRule') readPriority(rule, shape, compiler, symbols, slots, priority, diagnostics);
  }
  const memory: { recompute?: MemoryTrigger; offload?: MemoryTrigger } = {};
  for (const rule of memoryRules) {
    if (memory[rule.action] !== undefined) {
      const earlier = memoryRules.find((other) => other.action === rule.action)!;
      diagnostics.push(makeDiagnostic(diagnosticMessages.memoryRuleTwice, rule.span, { schedule: name, action: rule.action }, {
        related: [{ span: earlier.span, message: `the first ${rule.action} rule` }],
      }));
      continue;
    }
    const trigger = readMemoryRule(rule, compiler, symbols, slots, shape.devices, diagnostics);
    if (trigger !== undefined) memory[rule.action] = trigger;
  }
  if (hasError(diagnostics)) return undefined;
  const costs = options.costs ?? unitCostModel(shape.stages);
  const result = listSchedule(shape, { splitBackward, activationLimit: limits, stashLimit: stashLimits, priority, ...memory, span: declaration.name.span }, costs);
  if (!result.ok) {
    const limitRule = rules.find((rule) => rule.kind === 'LimitRule');
    diagnostics.push(makeDiagnostic(diagnosticMessages.limitTooTight, (limitRule ?? declaration.name).span, { detail: result.detail }));
    return undefined;
  }
  return { ...shape, name, splitBackward, orders: result.orders };
}

/** `requires placement KIND` and `requires split backward` are the contract's; anything else is unknown. */
function checkRequirement(rule: RequiresRule, diagnostics: Diagnostic[]): void {
  const what = rule.what.name;
  const value = rule.value?.name;
  if (isKnownRequirement(what, value)) return;
  diagnostics.push(makeDiagnostic(diagnosticMessages.unknownRequirement, rule.span, { what: value ? `${what} ${value}` : what, placements: listPlacementKinds('|', '|') }));
}

function requiresSplit(declaration: ScheduleDeclaration): boolean {
  return declaration.body.some((s) => s.kind === 'RequiresRule' && s.what.name === 'split' && s.value?.name === 'backward');
}

function applyLimit(rule: LimitRule, compiler: ExpressionCompiler, symbols: Symbols, slots: Slots, limits: number[], diagnostics: Diagnostic[]): void {
  // `activations` live from F until B or W; `stash` (a full stash) from F until I or B.
  if (rule.resource.name !== 'activations' && rule.resource.name !== 'stash') {
    diagnostics.push(makeDiagnostic(diagnosticMessages.unknownResource, rule.resource.span, { name: rule.resource.name }));
    return;
  }
  const inner = symbols.child();
  const deviceSlot = inner.define('d');
  const bound = compiler.compile(rule.bound, inner);
  if (!bound) return;
  for (let d = 0; d < limits.length; d++) {
    slots[deviceSlot] = d;
    const value = bound(slots);
    if (typeof value !== 'number') {
      diagnostics.push(makeDiagnostic(diagnosticMessages.notAnInteger, rule.bound.span, { expression: compiler.text(rule.bound), value: String(value), what: 'an activation limit' }));
      return;
    }
    limits[d] = Math.min(limits[d], Math.floor(value));
  }
}

function memoryRuleText(rule: MemoryRule, compiler: ExpressionCompiler): string {
  return `${rule.action} ${rule.trigger.name} ${compiler.text(rule.value)}`;
}

/**
 * `when live > K` (K per device, `d` bound, a positive whole number) or
 * `ratio R` (0 < R ≤ 1); undefined after a diagnostic.
 */
function readMemoryRule(rule: MemoryRule, compiler: ExpressionCompiler, symbols: Symbols, slots: Slots, devices: number, diagnostics: Diagnostic[]): MemoryTrigger | undefined {
  const verb = rule.action === 'recompute' ? 'checkpointed' : 'offloaded';
  const malformed = (problem: string, span: Span) => {
    diagnostics.push(makeDiagnostic(diagnosticMessages.memoryRuleForm, span, { rule: memoryRuleText(rule, compiler), problem }));
    return undefined;
  };
  const { trigger, value } = rule;
  if (trigger.name === 'when') {
    if (value.kind !== 'BinaryExpression' || value.operator !== '>' || value.left.kind !== 'NameExpression' || value.left.name.name !== 'live') {
      return malformed('`when` takes the comparison live > K, K the full stashes a device may hold', value.span);
    }
    const inner = symbols.child();
    const deviceSlot = inner.define('d');
    const bound = compiler.compile(value.right, inner);
    if (!bound) return undefined;
    const threshold: number[] = [];
    for (let d = 0; d < devices; d++) {
      slots[deviceSlot] = d;
      const k = bound(slots);
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.memoryRuleThreshold, value.right.span, { expression: compiler.text(value.right), value: String(k), device: d, action: rule.action, verb }));
        return undefined;
      }
      threshold.push(k);
    }
    return { kind: 'whenLive', threshold };
  }
  if (trigger.name === 'ratio') {
    const compiled = compiler.compile(value, symbols);
    if (!compiled) return undefined;
    const ratio = compiled(slots);
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.memoryRuleRatio, value.span, { expression: compiler.text(value), value: String(ratio), action: rule.action, verb }));
      return undefined;
    }
    return { kind: 'ratio', ratio };
  }
  return malformed(`the trigger is \`when live > K\` or \`ratio R\`, not '${trigger.name}'`, trigger.span);
}

function readPriority(rule: PriorityRule, shape: PipelineShape, compiler: ExpressionCompiler, symbols: Symbols, slots: Slots, priority: PriorityClass[], diagnostics: Diagnostic[]): void {

  for (const term of rule.terms) {
    if (term.operation === 'R' || term.operation === 'O' || term.operation === 'L') {
      diagnostics.push(makeDiagnostic(diagnosticMessages.memoryActionInPriority, term.span, { operation: term.operation }));
      continue;
    }
    if (term.operation === 'S' || term.operation === 'T') {
      // The device's vocabulary shard, whichever chunk it is: its F (S) or its backward (T).
      if (term.chunk) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.vocabPassWithChunk, term.chunk.span, { action: term.operation }));
        continue;
      }
      if (vocabShardsOf(shape) === 0) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.vocabPassWithoutShards, term.span, { action: term.operation }));
        continue;
      }
      priority.push({ operation: term.operation === 'S' ? 'F' : 'B', vocabShard: true });
    } else if (term.chunk) {
      const chunk = compiler.integer(term.chunk, symbols, 'a chunk');
      if (!chunk) return;
      priority.push({ operation: term.operation, chunk: chunk(slots) });
    } else priority.push({ operation: term.operation });
  }
}

type Runner = (slots: Slots, device: number, order: ComputeAction[]) => void;

/** Compiles order statements into runners that append one device's actions. */
class OrderCompiler {
  private readonly compiler: ExpressionCompiler;
  private readonly shape: PipelineShape;
  private readonly deviceStages: readonly (readonly number[])[];
  private nextGroup = 0;
  private readonly name: string;
  /** F, I, W (or F, B) of every (stage, microbatch). */
  readonly totalActions: number;
  /** Far beyond any valid order (which has at most 3 actions per stage and microbatch). */
  readonly actionsPerDeviceLimit: number;
  private loopBudget: number;

  constructor(compiler: ExpressionCompiler, shape: PipelineShape, deviceStages: readonly (readonly number[])[], name: string) {
    this.compiler = compiler;
    this.shape = shape;
    this.deviceStages = deviceStages;
    this.name = name;
    this.totalActions = 3 * shape.stages * shape.microbatches;
    this.actionsPerDeviceLimit = 4 * this.totalActions + 1000;
    this.loopBudget = 64 * this.totalActions + 10_000_000;
  }

  /** Loop steps are budgeted so a runaway range is a diagnostic, not a hang. */
  private spend(steps: number, span: Span, what: string): void {
    this.loopBudget -= steps;
    if (this.loopBudget < 0) {
      throw new EvaluationStop(makeDiagnostic(diagnosticMessages.tooMuchWork, span, { schedule: this.name, what, actions: this.totalActions }));
    }
  }

  /** Undefined when something did not compile (diagnostics say what). */
  block(statements: readonly OrderStatement[], symbols: Symbols): Runner | undefined {
    const runners: Runner[] = [];
    for (const statement of statements) {
      const runner = this.statement(statement, symbols);
      if (!runner) return undefined;
      runners.push(runner);
    }
    if (runners.length === 1) return runners[0];
    return (slots, device, order) => {
      for (let k = 0; k < runners.length; k++) runners[k](slots, device, order);
    };
  }

  private statement(statement: OrderStatement, symbols: Symbols): Runner | undefined {
    switch (statement.kind) {
      case 'LetStatement': {
        const value = this.compiler.compile(statement.value, symbols);
        if (!value) return undefined;
        const slot = symbols.define(statement.name.name);
        return (slots) => {
          slots[slot] = value(slots);
        };
      }
      case 'ActionStatement':
        return this.action(statement, symbols, () => undefined);
      case 'ForStatement': {
        const range = this.compiler.range(statement.range, symbols);
        const inner = symbols.child();
        const slot = inner.define(statement.variable.name);
        const body = this.block(statement.body, inner);
        if (!range || !body) return undefined;
        const span = statement.range.span;
        return (slots, device, order) => {
          const [from, to] = range(slots);
          this.spend(to - from, span, 'runs more loop steps than it could ever need');
          for (let i = from; i < to; i++) {
            slots[slot] = i;
            body(slots, device, order);
          }
        };
      }
      case 'IfStatement': {
        const condition = this.compiler.compile(statement.condition, symbols);
        const then = this.block(statement.then, symbols.child());
        const otherwise = statement.otherwise ? this.block(statement.otherwise, symbols.child()) : undefined;
        if (!condition || !then || (statement.otherwise && !otherwise)) return undefined;
        return (slots, device, order) => {
          if (truthy(condition(slots))) then(slots, device, order);
          else if (otherwise) otherwise(slots, device, order);
        };
      }
      case 'OverlapStatement': {
        // Each execution of the block is a fresh group.
        let group = 0;
        const current = () => group;
        const runners: Runner[] = [];
        for (const action of statement.body) {
          const runner = this.action(action, symbols, current);
          if (!runner) return undefined;
          runners.push(runner);
        }
        return (slots, device, order) => {
          group = this.nextGroup++;
          for (const runner of runners) runner(slots, device, order);
        };
      }
    }
  }

  private action(statement: ActionStatement, symbols: Symbols, group: () => number | undefined): Runner | undefined {
    // S[i] and T[i]: the forward and the backward of the device's vocabulary shard (its last chunk).
    const vocabPass = statement.operation === 'S' || statement.operation === 'T';
    if (vocabPass && statement.chunk) {
      this.compiler.report(makeDiagnostic(diagnosticMessages.vocabPassWithChunk, statement.chunk.span, { action: statement.operation }));
      return undefined;
    }
    if (vocabPass && vocabShardsOf(this.shape) === 0) {
      this.compiler.report(makeDiagnostic(diagnosticMessages.vocabPassWithoutShards, statement.span, { action: statement.operation }));
      return undefined;
    }
    const chunkValue = statement.chunk ? this.compiler.integer(statement.chunk, symbols, 'a chunk') : () => 0;
    const microbatch = statement.microbatch;
    const range = microbatch.kind === 'RangeExpression' ? this.compiler.range(microbatch, symbols) : undefined;
    const single = microbatch.kind === 'RangeExpression' ? undefined : this.compiler.integer(microbatch, symbols, 'a microbatch');
    if (!chunkValue || (!range && !single)) return undefined;
    const { span } = statement;
    const operation: ComputeOperation = statement.operation === 'S' ? 'F' : statement.operation === 'T' ? 'B' : statement.operation;
    const chunkSpan = (statement.chunk ?? statement).span;
    const microbatches = this.shape.microbatches;
    const deviceStages = this.deviceStages;
    return (slots, device, order) => {
      const stages = deviceStages[device];
      const chunk = vocabPass ? stages.length - 1 : chunkValue(slots);
      if (chunk < 0 || chunk >= stages.length) {
        throw new EvaluationStop(makeDiagnostic(diagnosticMessages.chunkOutOfRange, chunkSpan, { device, chunks: stages.length, chunk }));
      }
      const stage = stages[chunk];
      let from: number;
      let to: number;
      if (range) [from, to] = range(slots);
      else {
        from = single!(slots);
        to = from + 1;
      }
      if (from < 0 || to > microbatches) {
        throw new EvaluationStop(makeDiagnostic(diagnosticMessages.microbatchOutOfRange, microbatch.span, { microbatch: from < 0 ? from : to - 1, last: microbatches - 1 }));
      }
      if (order.length + (to - from) > this.actionsPerDeviceLimit) {
        throw new EvaluationStop(makeDiagnostic(diagnosticMessages.tooMuchWork, microbatch.span, {
          schedule: this.name, what: `emits more than ${this.actionsPerDeviceLimit} actions on device ${device}`, actions: this.totalActions,
        }));
      }
      const overlapGroup = group();
      for (let i = from; i < to; i++) {
        order.push(overlapGroup === undefined ? { operation, stage, microbatch: i, span } : { operation, stage, microbatch: i, span, overlapGroup });
      }
    };
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
