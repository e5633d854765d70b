// A schedule's contract: what it needs of the pipeline, written in its
// declaration, so the language, bare mode (`pipec schedule`) and imported
// orders read the same rules:
//
//   schedule dualpipe_v(p, m, v = 2) {       // v = 2: the chunks bare mode uses
//     requires placement v                    // the stage → rank map
//     requires v == 2                         // a condition over p, m, v, n and parameters
//     requires m >= 2 * p "needs at least 2p microbatches"
//     ...
//   }
//
// scheduleContract reads it; checkScheduleContract holds a shape against it
// and returns the violations, each at its `requires` line with the
// contract's message. A caller with a use site (the checker's `schedule
// NAME` line) makes that the primary span and keeps the requirement as the
// related one (contractDiagnosticAt).

import { makeDiagnostic, type Diagnostic, type RelatedSpan } from '../../grammar/diagnostic.ts';
import type { Expression, ScheduleDeclaration } from '../../grammar/ast.ts';
import { printExpression } from '../../grammar/printer.ts';
import type { Span } from '../../grammar/source.ts';
import { classifyCopies, describeStageDevices, parsePlacementKind, satisfiesPlacement, type Placement, type RegularPlacementKind } from '../placement.ts';
import type { ArgumentValue } from '../program.ts';
import type { PipelineShape } from './types.ts';
import { EvaluationStop, ExpressionCompiler, Symbols, type Slots } from './expressions.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

/**
 * The names a schedule gets from the pipeline: p devices (ranks), m
 * microbatches, n stages, v stages per device. (`v` here is the parameter,
 * the chunk count, not the placement of that name.)
 */
export const SHAPE_PARAMETERS = { devices: 'p', microbatches: 'm', stages: 'n', stagesPerDevice: 'v' } as const;
export const RESERVED_PARAMETERS: readonly string[] = Object.values(SHAPE_PARAMETERS);
const SHOWN_ORDER: readonly string[] = [SHAPE_PARAMETERS.devices, SHAPE_PARAMETERS.microbatches, SHAPE_PARAMETERS.stagesPerDevice, SHAPE_PARAMETERS.stages];

export interface ScheduleRequirement {
  readonly condition: Expression;
  /** What the schedule needs, in words ('needs at least 2p microbatches'); absent: the condition is shown. */
  readonly message?: string;
  /** The `requires` statement. */
  readonly span: Span;
}

export interface ScheduleContract {
  /** `requires placement KIND`. */
  readonly placement?: { readonly kind: RegularPlacementKind; readonly span: Span };
  /** The default of the parameter v (`schedule NAME(p, m, v = 2)`): the chunks per device when no pipeline says. */
  readonly defaultStagesPerDevice?: number;
  /** The backward is split into I and W (`split backward` or `requires split backward`). */
  readonly splitBackward: boolean;
  /** `requires CONDITION ["message"]`, in order. */
  readonly requirements: readonly ScheduleRequirement[];
  /**
   * `requires vocab parallel`: the order places the S and T passes of the
   * vocabulary shards (chunk v of every device), so the pipeline must shard
   * its output layer (`vocab_parallel LAYER`), and bare mode adds a shard
   * stage per device.
   */
  readonly vocabParallel?: { readonly span: Span };
}

/** The shape a contract is checked against. */
export interface ContractShape {
  readonly devices: number;
  readonly microbatches: number;
  readonly stagesPerDevice: number;
  /** The stage → rank map; without it `requires placement` is not checked. */
  readonly placement?: Placement;
  /** Vocabulary shard stages after the model's (0 or absent: none); checked only when present. */
  readonly vocabShards?: number;
}

/**
 * The contract shape of a pipeline shape or an order (an imported PyTorch
 * CSV included): its map classified by compiler/placement.ts.
 */
export function contractShapeOf(shape: PipelineShape): ContractShape {
  const copies = shape.copies ?? 1;
  // The vocabulary shards are no chunks of the placement: v and the map are the model's stages.
  const modelStages = shape.stages - (shape.vocabShards ?? 0);
  return {
    devices: shape.devices,
    // A schedule's m counts the microbatches of every copy; the shape's are per copy.
    microbatches: shape.microbatches * copies,
    stagesPerDevice: modelStages / shape.devices,
    placement: classifyCopies(shape.stageDevice.slice(0, modelStages), shape.devices, copies),
    vocabShards: shape.vocabShards ?? 0,
  };
}

export interface ContractViolation {
  readonly kind: 'placement' | 'condition' | 'vocab';
  /** The `requires` statement that does not hold. */
  readonly span: Span;
  /** The contract's words: its message, or 'requires v == 2', or 'requires placement v'. */
  readonly reason: string;
  /** For placement violations: the kind required and what the map is ('loop', 'as [0, 1, 1, 0]'). */
  readonly required?: RegularPlacementKind;
  readonly actual?: string;
  /** The diagnostic at `span` (PIPE4032 for a condition, PIPE4012 for a placement). */
  readonly diagnostic: Diagnostic;
}

export function scheduleContract(declaration: ScheduleDeclaration): ScheduleContract {
  let placement: ScheduleContract['placement'];
  let vocabParallel: ScheduleContract['vocabParallel'];
  let splitBackward = false;
  const requirements: ScheduleRequirement[] = [];
  for (const statement of declaration.body) {
    if (statement.kind === 'SplitBackwardRule') splitBackward = true;
    else if (statement.kind === 'RequiresCondition') {
      requirements.push({ condition: statement.condition, ...(statement.message ? { message: statement.message.value } : {}), span: statement.span });
    } else if (statement.kind === 'RequiresRule') {
      const value = statement.value?.name;
      if (statement.what.name === 'split' && value === 'backward') splitBackward = true;
      else if (statement.what.name === 'vocab' && value === 'parallel') vocabParallel ??= { span: statement.span };
      else if (statement.what.name === 'placement' && value !== undefined) {
        const kind = parsePlacementKind(value);
        if (kind !== undefined && placement === undefined) placement = { kind, span: statement.span };
      }
    }
  }
  const defaultStagesPerDevice = readDefaultStagesPerDevice(declaration);
  return {
    ...(placement ? { placement } : {}), ...(defaultStagesPerDevice === undefined ? {} : { defaultStagesPerDevice }), splitBackward, requirements,
    ...(vocabParallel ? { vocabParallel } : {}),
  };
}

/** `requires placement KIND` of a declaration, if any (kept for callers of the old name). */
export function requiredPlacement(declaration: ScheduleDeclaration): RegularPlacementKind | undefined {
  return scheduleContract(declaration).placement?.kind;
}

/** Whether a `requires` statement is one the compiler knows (placement KIND, split backward, vocab parallel). */
export function isKnownRequirement(what: string, value: string | undefined): boolean {
  if (what === 'split') return value === 'backward';
  if (what === 'vocab') return value === 'parallel';
  return what === 'placement' && value !== undefined && parsePlacementKind(value) !== undefined;
}

function readDefaultStagesPerDevice(declaration: ScheduleDeclaration): number | undefined {
  const parameter = declaration.params.find((param) => param.name.name === SHAPE_PARAMETERS.stagesPerDevice);
  if (parameter?.default === undefined) return undefined;
  const value = new ExpressionCompiler([]).compile(parameter.default, new Symbols())?.([]);
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/**
 * The violations of a declaration's contract by a shape, and the problems
 * of the contract itself (a condition that names something unknown, divides
 * by zero or is not true or false), all located in the declaration.
 * Parameters other than p, m, n, v come from `args` or their defaults; a
 * condition that needs one with neither is skipped (the missing argument
 * is reported where the schedule is used).
 */
export function checkScheduleContract(
  declaration: ScheduleDeclaration,
  shape: ContractShape,
  args: Readonly<Record<string, ArgumentValue>> = {},
  options: { readonly sources?: ReadonlyMap<string, string> } = {},
): { readonly violations: ContractViolation[]; readonly diagnostics: Diagnostic[] } {
  const contract = scheduleContract(declaration);
  const schedule = declaration.name.name;
  const violations: ContractViolation[] = [];
  const diagnostics: Diagnostic[] = [];

  if (contract.placement !== undefined && shape.placement !== undefined && !satisfiesPlacement(shape.placement, contract.placement.kind)) {
    const actual = describeStageDevices(shape.placement.stageDevice, shape.placement.devices);
    const required = contract.placement.kind;
    violations.push({
      kind: 'placement', span: contract.placement.span, reason: `requires placement ${required}`, required, actual,
      diagnostic: makeDiagnostic(diagnosticMessages.placementMismatch, contract.placement.span, { schedule, required, actual }),
    });
  }
  if (contract.vocabParallel !== undefined && shape.vocabShards !== undefined && shape.vocabShards === 0) {
    violations.push({
      kind: 'vocab', span: contract.vocabParallel.span, reason: 'requires vocab parallel',
      diagnostic: makeDiagnostic(diagnosticMessages.vocabScheduleNeedsShards, contract.vocabParallel.span, { schedule }),
    });
  }
  if (contract.requirements.length === 0) return { violations, diagnostics };

  const compiler = new ExpressionCompiler(diagnostics, options.sources?.get(declaration.span.file));
  const symbols = new Symbols();
  const slots: Slots = [];
  const values = new Map<string, number>();
  const bind = (name: string, value: number) => {
    slots[symbols.define(name)] = value;
    values.set(name, value);
  };
  bind(SHAPE_PARAMETERS.devices, shape.devices);
  bind(SHAPE_PARAMETERS.microbatches, shape.microbatches);
  bind(SHAPE_PARAMETERS.stages, shape.devices * shape.stagesPerDevice);
  bind(SHAPE_PARAMETERS.stagesPerDevice, shape.stagesPerDevice);
  const unbound = new Set<string>();
  for (const param of declaration.params) {
    const name = param.name.name;
    if (RESERVED_PARAMETERS.includes(name)) continue;
    const given = args[name];
    if (typeof given === 'number') bind(name, given);
    else if (param.default !== undefined) {
      try {
        const value = compiler.compile(param.default, symbols)?.(slots);
        if (typeof value === 'number') bind(name, value);
        else unbound.add(name);
      } catch (error) {
        if (!(error instanceof EvaluationStop)) throw error;
        diagnostics.push(error.diagnostic);
        unbound.add(name);
      }
    } else unbound.add(name);
  }

  for (const requirement of contract.requirements) {
    const names = namesIn(requirement.condition);
    if (names.some((name) => unbound.has(name))) continue;
    const condition = compiler.compile(requirement.condition, symbols);
    if (condition === undefined) continue;
    let holds: unknown;
    try {
      holds = condition(slots);
    } catch (error) {
      if (!(error instanceof EvaluationStop)) throw error;
      diagnostics.push(error.diagnostic);
      continue;
    }
    if (typeof holds !== 'boolean') {
      diagnostics.push(makeDiagnostic(diagnosticMessages.requirementNotCondition, requirement.condition.span, { expression: printExpression(requirement.condition), value: String(holds) }));
      continue;
    }
    if (holds) continue;
    const reason = requirement.message ?? `requires ${printExpression(requirement.condition)}`;
    // The shape first, in the order p, m, v, n, then parameters as they appear.
    const order = (name: string) => { const k = SHOWN_ORDER.indexOf(name); return k < 0 ? SHOWN_ORDER.length : k; };
    const shown = [...new Set(names)].filter((name) => values.has(name)).sort((a, b) => order(a) - order(b))
      .map((name) => `${name} = ${values.get(name)}`).join(', ');
    violations.push({
      kind: 'condition', span: requirement.span, reason,
      diagnostic: makeDiagnostic(diagnosticMessages.requirementFailed, requirement.span, { schedule, reason, values: shown }),
    });
  }
  return { violations, diagnostics };
}

/**
 * A violation reported where the schedule is used: the primary span is the
 * use site, the `requires` line is related (so nothing the user caused is
 * located only inside the standard library).
 */
export function contractDiagnosticAt(violation: ContractViolation, useSite: Span, extra: { readonly hint?: string; readonly message?: string } = {}): Diagnostic {
  return relocateDiagnostic({ ...violation.diagnostic, ...(extra.message === undefined ? {} : { message: extra.message }) }, useSite, 'required here', extra.hint);
}

/**
 * Moves a diagnostic found inside a schedule's declaration to the line that
 * uses the schedule, keeping where it was found as the first related span.
 */
export function relocateDiagnostic(diagnostic: Diagnostic, useSite: Span, why: string, hint?: string): Diagnostic {
  const related: RelatedSpan[] = [{ span: diagnostic.span, message: why }, ...diagnostic.related];
  const chosenHint = hint ?? diagnostic.hint;
  return { ...diagnostic, span: useSite, related, ...(chosenHint === undefined ? {} : { hint: chosenHint }) };
}

/** The names a condition reads, in order of appearance. */
function namesIn(expression: Expression): string[] {
  switch (expression.kind) {
    case 'NameExpression': return [expression.name.name];
    case 'ParenthesizedExpression': return namesIn(expression.expression);
    case 'UnaryExpression': return namesIn(expression.operand);
    case 'BinaryExpression': return [...namesIn(expression.left), ...namesIn(expression.right)];
    case 'CallExpression': return expression.args.flatMap((argument) => namesIn(argument.value));
    default: return [];
  }
}
