// Built-in schedules by name, for pipelines that have no .pipe file (the
// `pipec schedule` command, tests, the automatic scheduler's baselines).
// The definitions are the standard library's .pipe source; this only looks
// a name up (`zb-h1` and `zb_h1` alike), takes the chunks per device from
// the schedule's contract when none are given (`schedule NAME(p, m, v = 2)`),
// holds the shape against the contract (so `zb_v -v 3` is refused here as
// in a pipeline), places the stages as the contract requires (loop when it
// names no placement) and evaluates.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import { parse } from '../../grammar/index.ts';
import type { ScheduleDeclaration } from '../../grammar/ast.ts';
import { spanOf } from '../../grammar/source.ts';
import type { CostModel } from '../cost/types.ts';
import { STANDARD_SCHEDULES, standardLibrary } from '../stdlib/index.ts';
import { DEFAULT_PLACEMENT_KIND, isMirroredKind, mirroredPlacementProblem, placeForSchedule, regularPlacementProblem, scheduleStageDevices } from '../placement.ts';
import { checkScheduleContract, scheduleContract, type ScheduleContract } from './contract.ts';
import { evaluateSchedule } from './evaluate.ts';
import type { ComputeSchedule } from './types.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface BuiltinShape {
  readonly devices: number;
  readonly microbatches: number;
  /** Default: the contract's (`v = 2` in the declaration's parameters), else 1. */
  readonly stagesPerDevice?: number;
}

let library: { declarations: Map<string, ScheduleDeclaration>; diagnostics: Diagnostic[]; text: string } | undefined;

/** The standard library's schedule declarations, parsed once. */
export function standardSchedules(): ReadonlyMap<string, ScheduleDeclaration> {
  return loadLibrary().declarations;
}

function loadLibrary() {
  if (!library) {
    const text = standardLibrary(STANDARD_SCHEDULES) ?? '';
    const parsed = parse({ name: STANDARD_SCHEDULES, text });
    const declarations = new Map<string, ScheduleDeclaration>();
    for (const declaration of parsed.document.declarations) {
      if (declaration.kind === 'ScheduleDeclaration') declarations.set(declaration.name.name, declaration);
    }
    library = { declarations, diagnostics: parsed.diagnostics, text };
  }
  return library;
}

/** `zb-h1`, `ZB_H1`, `interleaved-1f1b` → the library's spelling. */
export function normaliseScheduleName(name: string): string {
  return name.trim().toLowerCase().replace(/-/g, '_');
}

export function builtinScheduleNames(): string[] {
  return [...loadLibrary().declarations.keys()];
}

/** The contract of a built-in schedule (any spelling of its name), or undefined for an unknown name. */
export function builtinScheduleContract(name: string): ScheduleContract | undefined {
  const declaration = loadLibrary().declarations.get(normaliseScheduleName(name));
  return declaration === undefined ? undefined : scheduleContract(declaration);
}

/** The chunks per device a built-in runs with when none are given: its contract's default, else 1. */
export function defaultStagesPerDevice(name: string): number {
  return builtinScheduleContract(name)?.defaultStagesPerDevice ?? 1;
}

export function builtinSchedule(
  name: string,
  shape: BuiltinShape,
  options: { readonly costs?: CostModel } = {},
): { schedule?: ComputeSchedule; diagnostics: Diagnostic[] } {
  const lib = loadLibrary();
  if (lib.diagnostics.some((d) => d.severity === 'error')) {
    // The embedded library must parse; a failure here is a build defect.
    throw new Error(`the standard library does not parse: ${lib.diagnostics.map((d) => d.message).join('; ')}`);
  }
  const key = normaliseScheduleName(name);
  const declaration = lib.declarations.get(key);
  const where = spanOf(STANDARD_SCHEDULES, 0, 0);
  if (!declaration) {
    return { diagnostics: [makeDiagnostic(diagnosticMessages.unknownBuiltinSchedule, where, { name, known: builtinScheduleNames().join(', ') })] };
  }
  const contract = scheduleContract(declaration);
  const { devices, microbatches } = shape;
  const stagesPerDevice = shape.stagesPerDevice ?? contract.defaultStagesPerDevice ?? 1;
  if (!(Number.isInteger(devices) && devices >= 1 && Number.isInteger(microbatches) && microbatches >= 1 && Number.isInteger(stagesPerDevice) && stagesPerDevice >= 1)) {
    return {
      diagnostics: [
        makeDiagnostic(diagnosticMessages.badShape, declaration.name.span, {
          detail: `devices, microbatches and stages per device must be positive whole numbers (got p=${devices}, m=${microbatches}, v=${stagesPerDevice})`,
        }),
      ],
    };
  }
  const sources = new Map([[STANDARD_SCHEDULES, lib.text]]);
  // Conditions first: `requires v == 2` says more than "v cannot place 3 stages per device".
  const held = checkScheduleContract(declaration, { devices, microbatches, stagesPerDevice }, {}, { sources });
  if (held.violations.length > 0 || held.diagnostics.length > 0) {
    return { diagnostics: [...held.diagnostics, ...held.violations.map((violation) => violation.diagnostic)] };
  }
  const kind = contract.placement?.kind ?? DEFAULT_PLACEMENT_KIND;
  // A mirrored kind places half the schedule's stages per device in each copy.
  const copies = isMirroredKind(kind) ? 2 : 1;
  const problem = mirroredPlacementProblem(kind, devices)
    ?? (microbatches % copies !== 0 ? `placement ${kind} splits the microbatches between two model copies, so m must be even, got ${microbatches}` : undefined)
    ?? regularPlacementProblem(kind, devices, (devices * stagesPerDevice) / copies)?.problem;
  if (problem !== undefined) {
    return { diagnostics: [makeDiagnostic(diagnosticMessages.badShape, contract.placement?.span ?? declaration.name.span, { detail: `schedule '${key}': ${problem}` })] };
  }
  const placement = placeForSchedule(kind, devices, stagesPerDevice);
  // A vocabulary-parallel schedule runs one shard stage per device after the model's (shard k on rank k).
  const vocabShards = contract.vocabParallel !== undefined ? devices : 0;
  const stageDevice = [...scheduleStageDevices(placement), ...Array.from({ length: vocabShards }, (_, rank) => rank)];
  const pipelineShape = {
    devices, microbatches: microbatches / copies, stages: stageDevice.length, stageDevice, ...(copies > 1 ? { copies } : {}), ...(vocabShards > 0 ? { vocabShards } : {}),
  };
  return evaluateSchedule(declaration, pipelineShape, {}, { costs: options.costs, sources });
}
