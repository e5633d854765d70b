// The compiler's public face: `import { compile, simulateCompilation } from 'pipec/compiler'`.
// Everything here is host-free (no Node APIs): files come through a
// CompilerHost, so editors, notebooks and browsers embed the same compiler
// the CLI runs. The phases, parse → check → schedule → lower → verify, are
// run by compiler/compilation.ts; the CLI, bench, scripts, the language
// server and the playground import only this file (and runtime/index.ts,
// grammar/index.ts).

import { checkProgram, type CheckOptions, type CheckResult, type ReadOptions } from './check/index.ts';
import { compileFile, type Compilation, type CompileRequest } from './compilation.ts';
import type { CompilerHost } from './host.ts';

// The one compilation.
export {
  PHASES, compileFile, compileCheckedProgram, continueCompilation, compileBareSchedule, describeCopies, compileTorchCsv, withSchedule, withStages, compiledDocument,
  verifyEveryPipeline, simulateCompilation, simulationSummary, ordersAsData, orderSummary, describeStuck, succeeded,
  type Phase, type Compilation, type CompileRequest, type CostChoice, type BareScheduleShape, type SimulatedCompilation,
} from './compilation.ts';

// Front end.
export { parse, printDocument, visit, isName, lexicalTokens, KEYWORD_WORDS, type ParseResult, type LexicalClass, type LexicalToken } from '../grammar/index.ts';
export type * from '../grammar/ast.ts';
export { makeSource, LineMap, type Source, type Span } from '../grammar/source.ts';
export { hasErrors, type Diagnostic, type Severity, type RelatedSpan, type Suggestion } from '../grammar/diagnostic.ts';
export { createMemoryHost, createReaderHost, type CompilerHost } from './host.ts';

// Names: declarations and their uses, for editors.
export {
  indexCompilationSymbols, indexSymbols, type IndexedDocument, type SymbolDefinition, type SymbolIndex, type SymbolKind, type SymbolOccurrence,
} from './symbols.ts';

// Checking.
export { checkProgram, type CheckOptions, type CheckResult, type ReadOptions } from './check/index.ts';
export type * from './program.ts';
export {
  describeBuiltinKind, formatShape, LAYER_KINDS, lookupLayer, lookupMerge, MERGE_KINDS, RESIDUAL_BLOCK, withDefaults,
  type ArgumentSchema, type CostRule, type LayerArguments, type LayerDefinition, type LayerKind, type MergeDefinition, type MergeKind,
} from './layers/catalog.ts';
export { describeBound } from './check/arguments.ts';
export { pipelineSettingsCatalog } from './check/settings.ts';
export { DTYPES, LOSS_FUNCTIONS } from './check/model.ts';

// Schedules and lowering.
export { type AutoScheduler } from './lower/compile.ts';
export { builtinSchedule, builtinScheduleContract, builtinScheduleNames, defaultStagesPerDevice, normaliseScheduleName } from './schedule/builtin.ts';
export {
  checkScheduleContract, contractDiagnosticAt, contractShapeOf, relocateDiagnostic, scheduleContract,
  type ContractShape, type ContractViolation, type ScheduleContract,
} from './schedule/contract.ts';
export { evaluateSchedule } from './schedule/evaluate.ts';
export { validateSchedule } from './schedule/validate.ts';
export { proveDeadlockFree, proveCommsOrderDeadlockFree, describeCommsDeadlock } from './schedule/deadlock.ts';
export {
  lowerCommunication, lowerCommunicationInTime, lowerCommunicationLikePyTorch, type CommsAction, type CommsOrder,
} from './lower/comms.ts';
export { simulateCommsOrder, type CommsSimulation } from './simulate/comms.ts';
export { lowerToInstructionStreams } from './lower/lower.ts';
export { bareScheduleIr } from './lower/bare.ts';
export type { ComputeSchedule, ComputeAction, PipelineShape } from './schedule/types.ts';
export {
  REGULAR_PLACEMENT_KINDS, classifyPlacement, describePlacement, explicitPlacement, parsePlacementKind, placeRegular, placementFromDeclaration,
  regularStageDevices, satisfiesPlacement, type Placement, type PlacementKind, type RegularPlacementKind,
} from './placement.ts';
export { IR_VERSION, type IrProgram, type Instruction, type InstructionOp } from './ir/types.ts';
export { irJsonSchema, validateIr } from './ir/schema.ts';
export { exportTorchCsv, formatCommsCsv, importTorchCsv, scheduleCells, torchExportRefusal, TWO_COPIES_CSV_REASON, VOCAB_PARALLEL_CSV_REASON } from './torch/csv.ts';
export { torchProcesses, torchProgramFiles, type ExternParameterShapes, type TorchProgramOptions } from './torch/program.ts';
export { decodeSafetensors, encodeSafetensors, type NamedTensor } from './torch/safetensors.ts';
export { peakActivationBytes, peakLiveActivations, stageActivationRecord, type StageActivationRecord, type StageMemoryOptions } from './schedule/memory.ts';
export { timeSchedule } from './schedule/unitTiming.ts';

// Costs, simulation, pictures, search.
export { unitCostModel, type CostModel, type StageTimes } from './cost/types.ts';
export { deriveCostModel, readCostsFile, costsFileSchema } from './cost/costModel.ts';
export { simulate, simulateIr, type SimulationResult } from './simulate/simulate.ts';
export { renderTimelineSvg } from './show/timelineSvg.ts';
export { renderTimelineText } from './show/timelineText.ts';
export { toPerfettoTrace, mergePerfettoTraces } from './show/perfettoTrace.ts';
export { formatMemory, formatPercent, formatTime, type MemoryUnit, type TimeUnit } from './show/format.ts';
export { partitionLayers, type PartitionRequest, type PartitionResult } from './partition/partition.ts';
export { autoSchedule, autoScheduleWithReport, type AutoScheduleReport, type ExactVerdict } from './autoschedule/autoSchedule.ts';
export { EXACT_MAX_ACTIONS, solveExactly, type ExactOptions, type ExactResult } from './autoschedule/exact.ts';
export { buildTables as exactProblemTables, fromComputeSchedule as exactIncumbent } from './autoschedule/orders.ts';
export { autoScheduleWithMemoryActions, describePairs, memoryPlanLines, type MemoryActionReport, type MemoryActionRequest, type MemoryMode, type MemoryPlanSummary } from './autoschedule/memoryActions.ts';
export {
  describeConfiguration, tune,
  type TuneCandidate, type TuneFix, type TuneKnob, type TuneKnobs, type TuneMemoryOverflow, type TuneNearMiss, type TuneRejection, type TuneRequest, type TuneResult, type TunedConfiguration,
} from './tune/tune.ts';
export type { ExternModuleReader } from './check/extern.ts';

/** `check` under its short name: parse and type-check a program and its imports. */
export function check(entryFile: string, host: CompilerHost, options: CheckOptions & ReadOptions = {}): CheckResult {
  return checkProgram(entryFile, host, options);
}

/** Check and compile in one call: source file → verified per-device instruction streams. Never throws on bad input. */
export function compile(entryFile: string, host: CompilerHost, request: CompileRequest = {}): Compilation {
  return compileFile(entryFile, host, request);
}
