// Built-in schedules by name, for pipelines that have no .pipe file (the
// `pipec schedule` command, tests, the automatic scheduler's baselines).
// The definitions are the standard library's .pipe source; this only looks
// a name up (`zb-h1` and `zb_h1` alike), places the stages as the schedule
// requires (V for the V-shaped families, loop otherwise) and evaluates.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import { parse } from '../../grammar/index.ts';
import type { ScheduleDeclaration } from '../../grammar/ast.ts';
import { spanOf } from '../../grammar/source.ts';
import type { CostModel } from '../cost/types.ts';
import { STANDARD_SCHEDULES, standardLibrary } from '../stdlib/index.ts';
import { evaluateSchedule, requiredPlacement } from './evaluate.ts';
import { placeStages, type ComputeSchedule } from './types.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface BuiltinShape {
  readonly devices: number;
  readonly microbatches: number;
  readonly stagesPerDevice: number;
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
  const { devices, microbatches, stagesPerDevice } = shape;
  if (!(Number.isInteger(devices) && devices >= 1 && Number.isInteger(microbatches) && microbatches >= 1 && Number.isInteger(stagesPerDevice) && stagesPerDevice >= 1)) {
    return {
      diagnostics: [
        makeDiagnostic(diagnosticMessages.badShape, declaration.name.span, {
          detail: `devices, microbatches and stages per device must be positive whole numbers (got p=${devices}, m=${microbatches}, v=${stagesPerDevice})`,
        }),
      ],
    };
  }
  const placement = requiredPlacement(declaration) ?? 'loop';
  const stageDevice = placeStages(placement, devices, stagesPerDevice);
  const pipelineShape = { devices, microbatches, stages: devices * stagesPerDevice, stageDevice };
  return evaluateSchedule(declaration, pipelineShape, {}, { costs: options.costs, sources: new Map([[STANDARD_SCHEDULES, lib.text]]) });
}
