// `schedule NAME(args)` in a pipeline: the name resolves among the declared
// and standard-library schedules, the arguments match the declaration's
// parameters (p, m, n and v are bound from the pipeline), and the schedule's
// contract holds (`requires placement v`, `requires v == 2`, `requires
// m >= 2 * p "..."`, see compiler/schedule/contract.ts), reported at the
// `schedule` line with the requirement as related span.
// `schedule auto(memory: X)` takes bytes or K * activations(NAME), and
// optionally exact: true (prove the optimum by branch and bound).
// The schedule bodies themselves are validated by the schedules phase.

import type { Expression, PipelineDeclaration, ScheduleDeclaration, ScheduleUse } from '../../grammar/ast.ts';
import { formatTemplate } from '../../grammar/diagnostic.ts';
import type { Span } from '../../grammar/source.ts';
import { describePlacement, isMirroredKind, scheduleStagesPerDevice, type Placement, type RegularPlacementKind } from '../placement.ts';
import type { ArgumentValue, CheckedScheduleUse } from '../program.ts';
import { checkScheduleContract, contractDiagnosticAt, scheduleContract, relocateDiagnostic, RESERVED_PARAMETERS, SHAPE_PARAMETERS } from '../schedule/contract.ts';
import { isStandardLibrary } from '../stdlib/index.ts';
import { readQuantity } from './cluster.ts';
import { exactlyOneMember, type Reporter } from './context.ts';
import { EMPTY_SCOPE, evaluateArgument } from './evaluate.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface PipelineShapeForSchedule {
  /** The stage → rank map (explicit maps that happen to be loop- or v-shaped satisfy `requires placement`). */
  readonly placement: Placement;
  /** Undefined when the pipeline's microbatches did not check (conditions are then not held against it). */
  readonly microbatches?: number;
  /** Vocabulary shard stages `vocab_parallel` adds (one per rank; 0: none; undefined: the setting did not check, so it is not held against the schedule). */
  readonly vocabShards?: number;
}

export function checkScheduleUse(
  pipeline: PipelineDeclaration,
  schedules: ReadonlyMap<string, ScheduleDeclaration>,
  shape: PipelineShapeForSchedule | undefined,
  reporter: Reporter,
): CheckedScheduleUse | undefined {
  const use = exactlyOneMember(pipeline, (m): m is ScheduleUse => m.kind === 'ScheduleUse', 'schedule', 'add e.g. schedule 1f1b', reporter);
  if (use === undefined) return undefined;
  const name = use.name.name;
  if (name === '') return undefined;
  // Two model copies need a schedule written for them: a single-copy order
  // (or the automatic scheduler, which plans one copy) would address the
  // microbatches of one copy only.
  const mirrored = shape !== undefined && shape.placement.copies.length > 1 ? shape.placement : undefined;
  if (name === 'auto') {
    if (mirrored !== undefined) {
      reporter.report(diagnosticMessages.mirrorAutoSchedule, use.span, { placement: mirrored.kind }, { hint: mirroredScheduleHint(schedules, mirrored) });
      return undefined;
    }
    if ((shape?.vocabShards ?? 0) > 0) {
      reporter.report(diagnosticMessages.vocabAutoSchedule, use.span, {}, {
        hint: `use ${vocabScheduleNames(schedules).join(' or ')}, or a rule schedule (its list scheduler places the S and T passes)`,
      });
      return undefined;
    }
    return checkAutoSchedule(use, schedules, reporter);
  }

  const declaration = schedules.get(name);
  if (declaration === undefined) {
    reporter.report(diagnosticMessages.unknownSchedule, use.name.span, { name }, {
      ...suggestName(name, [...schedules.keys(), 'auto'], use.name.span, { listUpTo: 0, otherwise: `schedules: ${[...schedules.keys()].join(', ')}, auto(memory: ...)` }),
    });
    return undefined;
  }
  const contract = scheduleContract(declaration);
  const required = contract.placement?.kind;
  // An explicit order places every action itself: on a vocab_parallel
  // pipeline it must be written for the shards (rule schedules place them).
  const explicit = declaration.body.some((statement) => statement.kind === 'OnDeviceBlock');
  if ((shape?.vocabShards ?? 0) > 0 && explicit && contract.vocabParallel === undefined) {
    reporter.report(diagnosticMessages.vocabScheduleWithoutShards, use.span, { schedule: name }, {
      hint: `use ${vocabScheduleNames(schedules).join(' or ')}, a rule schedule, or an order that places F[i, v] (S) and B[i, v] (T) and says requires vocab parallel`,
      related: [{ span: declaration.name.span, message: 'declared without requires vocab parallel' }],
    });
    return undefined;
  }
  if (mirrored !== undefined && (required === undefined || !isMirroredKind(required))) {
    reporter.report(diagnosticMessages.singleCopySchedule, use.span, { schedule: name, placement: mirrored.kind }, {
      hint: mirroredScheduleHint(schedules, mirrored),
      related: [{ span: declaration.name.span, message: required === undefined ? 'declared without requires placement' : `declared for placement ${required}` }],
    });
    return undefined;
  }
  const args: Record<string, ArgumentValue> = {};
  let ok = true;
  const parameters = declaration.params.map((parameter) => parameter.name.name);
  for (const argument of use.args) {
    const argumentName = argument.name?.name;
    if (argumentName === undefined) {
      ok = false;
      reporter.report(diagnosticMessages.scheduleArgument, argument.span, { name, problem: 'arguments must be named' }, {
        hint: parameters.length > 0 ? `parameters: ${parameters.join(', ')}` : undefined,
      });
      continue;
    }
    if (argumentName === '') { ok = false; continue; }
    const value = evaluateArgument(argument.value, EMPTY_SCOPE, reporter);
    if (RESERVED_PARAMETERS.includes(argumentName)) {
      const chunks = argumentName === SHAPE_PARAMETERS.stagesPerDevice;
      if (chunks && shape !== undefined && value === scheduleStagesPerDevice(shape.placement)) continue;
      ok = false;
      reporter.report(diagnosticMessages.scheduleArgument, argument.span, {
        name,
        problem: chunks && shape !== undefined
          ? `${argumentName} is bound from the pipeline (${scheduleStagesPerDevice(shape.placement)} stage(s) per device)${value === undefined ? '' : `, not ${typeof value === 'string' ? `'${value}'` : String(value)}`}`
          : `'${argumentName}' is bound from the pipeline and cannot be passed`,
      }, { hint: chunks ? 'change the number of stages or the placement instead' : undefined });
      continue;
    }
    if (!parameters.includes(argumentName)) {
      ok = false;
      reporter.report(diagnosticMessages.unknownScheduleArgument, argument.name!.span, { schedule: name, name: argumentName }, {
        ...suggestName(argumentName, parameters.filter((p) => !RESERVED_PARAMETERS.includes(p)), argument.name!.span),
        related: [{ span: declaration.name.span, message: 'declared here' }],
      });
      continue;
    }
    if (typeof value !== 'number') {
      ok = false;
      reporter.report(diagnosticMessages.scheduleArgument, argument.value.span, { name, problem: `'${argumentName}' must be a number` });
      continue;
    }
    args[argumentName] = value;
  }
  for (const parameter of declaration.params) {
    const parameterName = parameter.name.name;
    if (RESERVED_PARAMETERS.includes(parameterName) || parameter.default !== undefined) continue;
    if (!Object.hasOwn(args, parameterName) && !use.args.some((a) => a.name?.name === parameterName)) {
      ok = false;
      reporter.report(diagnosticMessages.missingScheduleArgument, use.span, { schedule: name, name: parameterName }, {
        related: [{ span: parameter.span, message: 'parameter declared here' }],
      });
    }
  }
  if (shape !== undefined && ok) {
    const { placement } = shape;
    const held = checkScheduleContract(declaration, {
      devices: placement.devices,
      microbatches: shape.microbatches ?? 1,
      stagesPerDevice: scheduleStagesPerDevice(placement),
      placement,
      ...(shape.vocabShards === undefined ? {} : { vocabShards: shape.vocabShards }),
    }, args);
    const fromLibrary = isStandardLibrary(declaration.span.file);
    for (const violation of held.violations) {
      if (violation.kind === 'condition' && shape.microbatches === undefined) continue;
      ok = false;
      if (violation.kind === 'placement') {
        const required = violation.required!;
        reporter.diagnostics.push(contractDiagnosticAt(violation, use.span, {
          message: formatPlacementMismatch(name, required, `${describePlacement(placement)} in pipeline '${pipeline.name.name}'`),
          hint: `use stages placement ${required} { ... } or stages auto(N) placement ${required}`,
        }));
      } else {
        reporter.diagnostics.push(contractDiagnosticAt(violation, use.span));
      }
    }
    // A condition the schedule's author got wrong: the user can do nothing
    // about it in the library, but must still see it at their own line.
    for (const diagnostic of held.diagnostics) {
      ok = false;
      reporter.diagnostics.push(fromLibrary ? relocateDiagnostic(diagnostic, use.span, `in schedule '${name}'`) : diagnostic);
    }
  }
  if (!ok) return undefined;
  return { name, args, declaration, span: use.span };
}

/** 'use a schedule written for two copies: dualpipe, chimera' (those whose contract requires this placement). */
function mirroredScheduleHint(schedules: ReadonlyMap<string, ScheduleDeclaration>, placement: Placement): string {
  const fitting = [...schedules.values()].filter((declaration) => scheduleContract(declaration).placement?.kind === placement.kind).map((declaration) => declaration.name.name);
  return fitting.length === 0
    ? `declare a schedule with requires placement ${placement.kind}`
    : `use a schedule written for two copies: ${fitting.join(', ')}`;
}

function formatPlacementMismatch(schedule: string, required: RegularPlacementKind, actual: string): string {
  return formatTemplate(diagnosticMessages.placementMismatch.template, { schedule, required, actual });
}

function checkAutoSchedule(
  use: ScheduleUse,
  schedules: ReadonlyMap<string, ScheduleDeclaration>,
  reporter: Reporter,
): CheckedScheduleUse | undefined {
  const memory = use.args.find((argument) => argument.name === undefined || argument.name.name === 'memory');
  const exactArgument = use.args.find((argument) => argument.name?.name === 'exact');
  // `recompute: true|false`, `offload: true|false`: whether the search may add memory actions.
  const flags: Record<string, boolean> = {};
  for (const argument of use.args) {
    if (argument === memory || argument === exactArgument) continue;
    const name = argument.name?.name;
    if ((name === 'recompute' || name === 'offload') && flags[name] === undefined) {
      if (argument.value.kind !== 'BooleanLiteral') {
        reporter.report(diagnosticMessages.autoMemoryActionFlag, argument.value.span, { name, actual: describe(argument.value) });
        return undefined;
      }
      flags[name] = argument.value.value;
      continue;
    }
    reporter.report(diagnosticMessages.scheduleArgument, argument.span, { name: 'auto', problem: 'it takes memory: ..., and optionally exact, recompute and offload, each true or false' });
    return undefined;
  }
  // exact: true asks for the branch and bound that proves the optimum (compiler/autoschedule/exact.ts).
  let exact = false;
  if (exactArgument !== undefined) {
    if (exactArgument.value.kind !== 'BooleanLiteral') {
      reporter.report(diagnosticMessages.autoExactFlag, exactArgument.value.span, { actual: describe(exactArgument.value) });
      return undefined;
    }
    exact = exactArgument.value.value;
  }
  const exactArgs: Record<string, ArgumentValue> = exact ? { exact: true } : {};
  // The exact search proves the best plain order; with memory actions there is no proof to give.
  const withActions = use.args.find((argument) => (argument.name?.name === 'recompute' || argument.name?.name === 'offload') && flags[argument.name.name] === true);
  if (exact && withActions !== undefined) {
    reporter.report(diagnosticMessages.scheduleArgument, withActions.span, { name: 'auto', problem: 'exact: true proves the best order without memory actions, so it cannot be combined with recompute: true or offload: true' });
    return undefined;
  }
  if (memory === undefined) {
    reporter.report(diagnosticMessages.scheduleArgument, use.span, { name: 'auto', problem: 'it needs the argument memory' }, {
      hint: 'e.g. schedule auto(memory: 1.0 * activations(1f1b)) or auto(memory: 12GiB)',
    });
    return undefined;
  }
  const value = memory.value;
  if (value.kind === 'QuantityLiteral') {
    const bytes = readQuantity(value, 'bytes', 'memory', reporter);
    if (bytes === undefined) return undefined;
    return { name: 'auto', args: { memory: bytes, memoryUnit: 'bytes', ...flags, ...exactArgs }, span: use.span };
  }
  const activations = readActivations(value);
  if (activations === undefined) {
    reporter.report(diagnosticMessages.autoMemory, value.span, { actual: describe(value) });
    return undefined;
  }
  if (!schedules.has(activations.reference)) {
    reporter.report(diagnosticMessages.unknownSchedule, activations.span, { name: activations.reference }, {
      ...suggestName(activations.reference, schedules.keys(), activations.span, { listUpTo: 0 }),
    });
    return undefined;
  }
  return {
    name: 'auto',
    args: { memory: activations.factor, memoryUnit: 'activations', reference: activations.reference, ...flags, ...exactArgs },
    span: use.span,
  };
}

function readActivations(value: Expression): { factor: number; reference: string; span: Span } | undefined {
  const call = (expression: Expression) => {
    if (expression.kind !== 'CallExpression' || expression.callee.name !== 'activations' || expression.args.length !== 1) return undefined;
    const argument = expression.args[0].value;
    return argument.kind === 'NameExpression' ? { reference: argument.name.name, span: argument.span } : undefined;
  };
  const direct = call(value);
  if (direct !== undefined) return { factor: 1, ...direct };
  if (value.kind === 'BinaryExpression' && value.operator === '*') {
    const [number, other] = value.left.kind === 'NumberLiteral' ? [value.left, value.right] : [value.right, value.left];
    if (number.kind !== 'NumberLiteral' || !(number.value > 0)) return undefined;
    const inner = call(other);
    return inner === undefined ? undefined : { factor: number.value, ...inner };
  }
  return undefined;
}

function describe(value: Expression): string {
  switch (value.kind) {
    case 'NumberLiteral': return `the plain number ${value.text}`;
    case 'NameExpression': return `'${value.name.name}'`;
    default: return 'another expression';
  }
}

/** The schedules written for vocabulary-parallel pipelines (their contract says requires vocab parallel). */
function vocabScheduleNames(schedules: ReadonlyMap<string, ScheduleDeclaration>): string[] {
  return [...schedules].filter(([, declaration]) => scheduleContract(declaration).vocabParallel !== undefined).map(([name]) => name);
}
