// The compiler as a library: `import { parse, check, compile, simulate } from 'pipec'`.
// Everything here is host-free (no Node APIs): files come through a
// CompilerHost, so editors, notebooks and browsers embed the same compiler
// the CLI runs. Phases, in order: parse → check → schedule → lower → simulate.

import type { Diagnostic } from '../grammar/diagnostic.ts';
import { hasErrors } from '../grammar/diagnostic.ts';
import { checkProgram, type CheckOptions, type CheckResult } from './check/index.ts';
import type { CompilerHost } from './host.ts';
import type { IrProgram } from './ir/types.ts';
import { compileProgram, type CompileOptions } from './lower/compile.ts';
import type { CheckedProgram } from './program.ts';
import type { ComputeSchedule } from './schedule/types.ts';

// Front end.
export { parse, printDocument, visit, type ParseResult } from '../grammar/index.ts';
export type * from '../grammar/ast.ts';
export { makeSource, LineMap, type Source, type Span } from '../grammar/source.ts';
export { hasErrors, type Diagnostic, type Severity, type RelatedSpan } from '../grammar/diagnostic.ts';
export { createMemoryHost, type CompilerHost } from './host.ts';

// Checking.
export { checkProgram, type CheckOptions, type CheckResult } from './check/index.ts';
export type * from './program.ts';
export { lookupLayer } from './layers/catalog.ts';

// Schedules and lowering.
export { compileProgram, type CompileOptions, type CompileResult } from './lower/compile.ts';
export { builtinSchedule, builtinScheduleContract, builtinScheduleNames, defaultStagesPerDevice } from './schedule/builtin.ts';
export {
  checkScheduleContract, contractDiagnosticAt, contractShapeOf, relocateDiagnostic, scheduleContract,
  type ContractShape, type ContractViolation, type ScheduleContract,
} from './schedule/contract.ts';
export { evaluateSchedule } from './schedule/evaluate.ts';
export { validateSchedule } from './schedule/validate.ts';
export { proveDeadlockFree } from './schedule/deadlock.ts';
export { lowerToInstructionStreams } from './lower/lower.ts';
export { bareScheduleIr } from './lower/bare.ts';
export type { ComputeSchedule, ComputeAction, PipelineShape } from './schedule/types.ts';
export {
  classifyPlacement, describePlacement, explicitPlacement, parsePlacementKind, placeRegular, placementFromDeclaration,
  regularStageDevices, satisfiesPlacement, type Placement, type PlacementKind, type RegularPlacementKind,
} from './placement.ts';
export { IR_VERSION, type IrProgram, type Instruction, type InstructionOp } from './ir/types.ts';
export { irJsonSchema, validateIr } from './ir/schema.ts';
export { exportTorchCsv, importTorchCsv } from './torch/csv.ts';
export { checkTorchCsvFile } from './torch/check.ts';

// Costs, simulation, pictures, search.
export { unitCostModel, type CostModel, type StageTimes } from './cost/types.ts';
export { deriveCostModel, readCostsFile, costsFileSchema } from './cost/costModel.ts';
export { simulate, simulateIr, type SimulationResult } from './simulate/simulate.ts';
export { renderTimelineSvg } from './show/timelineSvg.ts';
export { renderTimelineText } from './show/timelineText.ts';
export { toPerfettoTrace } from './show/perfettoTrace.ts';
export { partitionLayers, type PartitionRequest, type PartitionResult } from './partition/partition.ts';
export { autoSchedule, autoScheduleWithReport } from './autoschedule/autoSchedule.ts';
export { tune } from './tune/tune.ts';

/** `check` under its short name: parse and type-check a program and its imports. */
export function check(entryFile: string, host: CompilerHost, options: CheckOptions = {}): CheckResult {
  return checkProgram(entryFile, host, options);
}

export interface CompiledFile {
  readonly program?: CheckedProgram;
  readonly schedule?: ComputeSchedule;
  readonly ir?: IrProgram;
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
}

/** Check and compile in one call: source file → per-device instruction streams. Never throws on bad input. */
export function compile(entryFile: string, host: CompilerHost, options: CheckOptions & CompileOptions = {}): CompiledFile {
  const checked = checkProgram(entryFile, host, options);
  if (!checked.program || hasErrors(checked.diagnostics)) {
    return { diagnostics: checked.diagnostics, sources: checked.sources };
  }
  const compiled = compileProgram(checked.program, options);
  return {
    program: checked.program,
    schedule: compiled.schedule,
    ir: compiled.ir,
    diagnostics: [...checked.diagnostics, ...compiled.diagnostics],
    sources: checked.sources,
  };
}
