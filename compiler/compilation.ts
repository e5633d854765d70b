// One compilation, owned by the core: the named phases
//   parse → check → schedule → lower → verify
// run in order, each returning its value and its diagnostics. A caller asks
// for "the program up to phase X" and renders what it gets; it never chains
// phases itself. Three entry points feed the same phases:
//   - compileFile: a .pipe program read through a CompilerHost;
//   - compileBareSchedule: a built-in (or auto) schedule on a bare pipeline
//     shape (name, p, m, v, costs), as `pipec schedule` and `--schedule` use;
//   - compileTorchCsv: an imported PyTorch schedule CSV.
// withSchedule and withStages rewrite the program's AST (never its text) and
// check it again, so every diagnostic of a variant points at a real line of
// the user's file. simulateCompilation runs the simulator on the result.

import type * as ast from '../grammar/ast.ts';
import { hasErrors, makeDiagnostic, type Diagnostic } from '../grammar/diagnostic.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';
import { spanOf } from '../grammar/source.ts';
import { autoSchedule } from './autoschedule/autoSchedule.ts';
import { bareAutoSchedule } from './autoschedule/bare.ts';
import type { MemoryPlanSummary } from './autoschedule/memoryActions.ts';
import type { ExactVerdict } from './autoschedule/autoSchedule.ts';
import { checkParsedProgram, entryDocument, parseProgram, withEntryDocument, type CheckOptions, type ParsedProgram } from './check/index.ts';
import type { AutoStagesMemory } from './check/stages.ts';
import type { ExternModuleReader } from './check/extern.ts';
import { didYouMean } from './check/suggest.ts';
import { deriveCostModel, readCostsFile } from './cost/costModel.ts';
import { costModelFromSpec, parseCostSpec, UNIT_COST_SPEC, type CostSpec } from './cost/costSpec.ts';
import { unitCostModel, type CostModel } from './cost/types.ts';
import type { CompilerHost } from './host.ts';
import type { IrProgram } from './ir/types.ts';
import { bareScheduleIr } from './lower/bare.ts';
import { lowerProgram, scheduleProgram, verifyCommsOrder, verifyStreams, type AutoScheduler } from './lower/compile.ts';
import type { CheckedProgram } from './program.ts';
import { DEFAULT_PLACEMENT_KIND, describePlacement, satisfiesPlacement } from './placement.ts';
import { builtinSchedule, builtinScheduleNames, defaultStagesPerDevice, normaliseScheduleName, standardSchedules } from './schedule/builtin.ts';
import { scheduleContract } from './schedule/contract.ts';
import { peakLiveActivations } from './schedule/memory.ts';
import type { ComputeSchedule } from './schedule/types.ts';
import { timeSchedule } from './schedule/unitTiming.ts';
import { problemsToDiagnostics, validateSchedule } from './schedule/validate.ts';
import { simulate, simulateIr, type SimulationResult } from './simulate/simulate.ts';
import type { MemoryUnit, TimeUnit } from './show/format.ts';
import { STANDARD_SCHEDULES, standardLibrary } from './stdlib/index.ts';
import { importTorchCsv } from './torch/csv.ts';
import { MAX_ACTIONS, MAX_DEVICES, MAX_MICROBATCHES } from './limits.ts';
import { findPipeline, rewriteDeviceMemory, rewriteDocument, rewriteSchedule, type TuneConfiguration } from './tune/rewrite.ts';

export const PHASES = ['parse', 'check', 'schedule', 'lower', 'verify'] as const;
export type Phase = (typeof PHASES)[number];

/** Where the times and activation sizes the schedulers and the simulator use come from. */
export type CostChoice =
  /** From the program's FLOPs, devices and links (the default for programs). */
  | { readonly kind: 'derived' }
  /** F = I = W = 1, B = 2, no communication (the default for bare schedules and CSVs). */
  | { readonly kind: 'unit' }
  /** A costs file written by `pipec profile` (programs only). */
  | { readonly kind: 'measured'; readonly file: string; readonly text: string }
  /** Uniform costs `F=1,I=1,W=1,C=0.5` (bare schedules and CSVs only). */
  | { readonly kind: 'uniform'; readonly spec: string };

export interface CompileRequest {
  /** The last phase to run (default: verify). */
  readonly until?: Phase;
  /** The pipeline to compile (default: the entry file's first). */
  readonly pipeline?: string;
  readonly costs?: CostChoice;
  /** Reads extern layers' TypeScript (the Node edge passes the ts-morph reader). */
  readonly readExternModule?: ExternModuleReader;
  /** How `stages auto(N)` treats device memory (CheckOptions.autoStagesMemory; default 'fit'). */
  readonly autoStagesMemory?: AutoStagesMemory;
  readonly autoSchedule?: AutoScheduler;
  /**
   * The project folder: imports and extern modules resolve inside it or are
   * refused before they are read (default: the entry file's folder).
   */
  readonly projectRoot?: string;
  /** More folders imports and extern modules may be read from (the CLI's --allow-read DIR). */
  readonly allowRead?: readonly string[];
}

/** What a compilation has reached. Every field past `diagnostics` is present once its phase has produced it. */
export interface Compilation {
  readonly origin: 'program' | 'bare' | 'torch-csv';
  /** The entry file, the bare schedule's name, or the CSV file. */
  readonly name: string;
  readonly request: CompileRequest;
  readonly sources: ReadonlyMap<string, string>;
  /** Every phase's diagnostics so far, in phase order. */
  readonly diagnostics: readonly Diagnostic[];
  /** The phases that ran, in order; the last one may have reported errors. */
  readonly phases: readonly Phase[];
  /**
   * Why the compilation stopped when that is not a diagnostic of the
   * program: a problem with the request (unknown schedule name, a shape
   * the schedule's contract refuses, an unreadable file, bad --cost) is
   * `usage`; a file with nothing to compile is `nothing`.
   */
  readonly stop?: { readonly kind: 'usage' | 'nothing'; readonly message: string };
  readonly parsed?: ParsedProgram;
  readonly host?: CompilerHost;
  /** The selected pipeline, checked. */
  readonly program?: CheckedProgram;
  /** Every pipeline of the entry file, checked (when nothing has errors). */
  readonly programs?: ReadonlyMap<string, CheckedProgram>;
  readonly costs?: CostModel;
  /** How the costs read in a title: 'unit costs', 'costs F=1,I=1,W=1,C=0.5', 'costs derived from FLOPs and links'. */
  readonly costLabel?: string;
  readonly schedule?: ComputeSchedule;
  readonly ir?: IrProgram;
  /** Set by withSchedule when the schedule needed another stage split: what it became. */
  readonly restaged?: string;
  /** `auto` with memory actions: which microbatches it recomputes or offloads, and the makespan without them. */
  readonly memoryPlan?: MemoryPlanSummary;
  /** Bare `auto` with exact: what the exact search proved about the schedule (a program reports it as PIPE5400 / PIPE5401). */
  readonly exact?: ExactVerdict;
}

/** No errors and nothing stopped it: every phase asked for produced its value. */
export function succeeded(compilation: Compilation): boolean {
  return compilation.stop === undefined && !hasErrors(compilation.diagnostics) && compilation.phases.at(-1) === (compilation.request.until ?? 'verify');
}

const stopped = (compilation: Compilation, phase: Phase) =>
  compilation.stop !== undefined || hasErrors(compilation.diagnostics) || PHASES.indexOf(phase) > PHASES.indexOf(compilation.request.until ?? 'verify');

// ───────────────────────────── programs ─────────────────────────────

/** A .pipe program, from its entry file to verified instruction streams (or as far as `request.until`). */
export function compileFile(entryFile: string, host: CompilerHost, request: CompileRequest = {}): Compilation {
  const parsed = parseProgram(entryFile, host, { projectRoot: request.projectRoot, allowRead: request.allowRead });
  const start: Compilation = {
    origin: 'program', name: entryFile, request, sources: parsed.loaded.sources, diagnostics: parsed.diagnostics, phases: ['parse'], parsed, host,
  };
  if (!parsed.loaded.entryFound) return { ...start, diagnostics: [], stop: { kind: 'usage', message: `${entryFile} cannot be read` } };
  return runProgramPhases(start);
}

/**
 * An already checked program through schedule → lower → verify (the
 * library's `compile` for callers that checked it themselves).
 */
export function compileCheckedProgram(program: CheckedProgram, request: CompileRequest = {}): Compilation {
  return runProgramPhases({
    origin: 'program', name: program.pipeline.span.file, request, sources: program.sources, diagnostics: [], phases: ['parse', 'check'], program,
  });
}

/** A program compilation that stopped early on request (`until`), run on to `until` now. */
export function continueCompilation(compilation: Compilation, until: Phase = 'verify'): Compilation {
  if (compilation.origin !== 'program' || compilation.stop !== undefined || hasErrors(compilation.diagnostics)) return compilation;
  if (PHASES.indexOf(compilation.phases.at(-1) ?? 'parse') >= PHASES.indexOf(until)) return compilation;
  return runProgramPhases({ ...compilation, request: { ...compilation.request, until } });
}

function runProgramPhases(start: Compilation): Compilation {
  let compilation = start;
  if (!compilation.phases.includes('check') && !stopped(compilation, 'check')) compilation = checkPhase(compilation);
  if (!stopped(compilation, 'schedule')) compilation = schedulePhase(compilation);
  if (!stopped(compilation, 'lower')) compilation = lowerPhase(compilation);
  if (!stopped(compilation, 'verify')) compilation = verifyPhase(compilation);
  return compilation;
}

function checkPhase(compilation: Compilation): Compilation {
  const { parsed, host, request } = compilation;
  const options: CheckOptions = { pipeline: request.pipeline, readExternModule: request.readExternModule, autoStagesMemory: request.autoStagesMemory };
  const checked = checkParsedProgram(parsed!, host!, options);
  const next: Compilation = {
    ...compilation, phases: [...compilation.phases, 'check'], diagnostics: checked.diagnostics, sources: checked.sources,
    program: checked.program, programs: checked.programs,
  };
  if (checked.program === undefined && !hasErrors(checked.diagnostics)) {
    return { ...next, stop: { kind: 'nothing', message: describeEmpty(parsed!) } };
  }
  return next;
}

/** Why a file that checks has nothing to compile: what it declares instead. */
function describeEmpty(parsed: ParsedProgram): string {
  const document = entryDocument(parsed);
  const declared = (document?.declarations ?? []).map((declaration) => `${declaration.kind.replace('Declaration', '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} ${declaration.name.name}`);
  if (declared.length === 0) return `${parsed.entryFile} declares nothing: a program needs a model, a cluster and a pipeline`;
  return `${parsed.entryFile} declares no pipeline (it has ${declared.join(', ')}); add a pipeline that names a model and a cluster`;
}

function costsForProgram(program: CheckedProgram, choice: CostChoice | undefined): { costs?: CostModel; label: string; diagnostics: readonly Diagnostic[]; sources?: [string, string] } {
  switch (choice?.kind ?? 'derived') {
    case 'unit':
      return { costs: unitCostModel(program.pipeline.stages.length), label: 'unit costs', diagnostics: [] };
    case 'measured': {
      const measured = choice as Extract<CostChoice, { kind: 'measured' }>;
      const read = readCostsFile(measured.text, measured.file, program);
      return { costs: read.costs, label: `measured costs (${measured.file})`, diagnostics: read.diagnostics, sources: [measured.file, measured.text] };
    }
    default:
      return { costs: deriveCostModel(program), label: 'costs derived from FLOPs and links', diagnostics: [] };
  }
}

function schedulePhase(compilation: Compilation): Compilation {
  const program = compilation.program!;
  const choice = compilation.request.costs;
  if (choice?.kind === 'uniform') {
    return { ...compilation, stop: { kind: 'usage', message: '--cost is for bare pipelines; a .pipe program takes --costs FILE or --unit' } };
  }
  const costs = costsForProgram(program, choice);
  const sources = costs.sources ? new Map([...compilation.sources, costs.sources]) : compilation.sources;
  const phases = [...compilation.phases, 'schedule'] as const;
  if (!costs.costs) return { ...compilation, sources, phases, diagnostics: [...compilation.diagnostics, ...costs.diagnostics], costLabel: costs.label };
  const overflow = nonFiniteCost(program, costs.costs);
  if (overflow !== undefined) return { ...compilation, sources, phases, diagnostics: [...compilation.diagnostics, ...costs.diagnostics, overflow], costLabel: costs.label };
  const scheduled = scheduleProgram(program, costs.costs, compilation.request.autoSchedule ?? autoSchedule);
  return {
    ...compilation, sources, phases, costs: costs.costs, costLabel: costs.label, schedule: scheduled.schedule,
    ...(scheduled.memoryPlan ? { memoryPlan: scheduled.memoryPlan } : {}),
    diagnostics: [...compilation.diagnostics, ...costs.diagnostics, ...scheduled.diagnostics],
  };
}

function lowerPhase(compilation: Compilation): Compilation {
  const phases = [...compilation.phases, 'lower'] as const;
  if (compilation.origin !== 'program') {
    return { ...compilation, phases, ir: bareScheduleIr(compilation.schedule!) };
  }
  const lowered = lowerProgram(compilation.program!, compilation.schedule!);
  const where = lowered.ir === undefined ? undefined : firstNonFinite(lowered.ir);
  const overflow = where === undefined ? [] : [makeDiagnostic(diagnosticMessages.nonFiniteQuantity, compilation.program!.pipeline.span, {
    what: `the instruction streams' ${where.path}`, value: describeNumber(where.value), consequence: 'the program cannot be run or simulated',
  })];
  return { ...compilation, phases, ir: lowered.ir, diagnostics: [...compilation.diagnostics, ...lowered.diagnostics, ...overflow] };
}

/**
 * The last guard before the schedulers and the simulator: a NaN compares
 * false, so a memory check or a bound would silently pass it. The checker
 * keeps every quantity in range (compiler/limits.ts); whatever still
 * overflows here is named with the stage it belongs to.
 */
function nonFiniteCost(program: CheckedProgram, costs: CostModel): Diagnostic | undefined {
  const perStage: [string, readonly number[] | undefined][] = [
    ['forward time', costs.stages.map((stage) => stage.forward)], ['backward time', costs.stages.map((stage) => stage.backward)],
    ['input-gradient time', costs.stages.map((stage) => stage.backwardInput)], ['weight-gradient time', costs.stages.map((stage) => stage.backwardWeight)],
    ['activation size', costs.stages.map((stage) => stage.activation)], ['activation transfer time', costs.sendActivation],
    ['gradient transfer time', costs.sendGradient], ['allreduce time', costs.allreduce], ['optimizer step time', costs.optimizerStep],
  ];
  for (const [what, values] of perStage) {
    const index = values?.findIndex((value) => !Number.isFinite(value)) ?? -1;
    if (index < 0) continue;
    const stage = program.pipeline.stages[index];
    return makeDiagnostic(diagnosticMessages.nonFiniteQuantity, stage?.span ?? program.pipeline.span, {
      what: `the ${what} of stage '${stage?.name ?? index}'`, value: describeNumber(values![index]), consequence: 'the pipeline cannot be scheduled or simulated',
    });
  }
  if (costs.hostBandwidth !== undefined && !Number.isFinite(costs.hostBandwidth)) {
    return makeDiagnostic(diagnosticMessages.nonFiniteQuantity, program.pipeline.span, {
      what: 'the host memory bandwidth', value: describeNumber(costs.hostBandwidth), consequence: 'offloading cannot be timed',
    });
  }
  return undefined;
}

/** The first NaN or ±Infinity inside a value, with the name of the field holding it (JSON.stringify walks it natively). */
function firstNonFinite(value: unknown): { path: string; value: number } | undefined {
  let found: { path: string; value: number } | undefined;
  JSON.stringify(value, (key, child: unknown) => {
    if (found === undefined && typeof child === 'number' && !Number.isFinite(child)) found = { path: `field '${key}'`, value: child };
    return child;
  });
  return found;
}

function describeNumber(value: number): string {
  return Number.isNaN(value) ? 'not a number' : 'too large to represent';
}

function verifyPhase(compilation: Compilation): Compilation {
  const at = compilation.origin === 'program' ? compilation.program!.pipeline.schedule.span : spanOf(compilation.name, 0, 0);
  const found = verifyStreams(compilation.ir!, at);
  if (found.length > 0 && compilation.origin === 'bare') {
    return { ...compilation, phases: [...compilation.phases, 'verify'], stop: { kind: 'usage', message: `${compilation.name}: ${found[0].message}` } };
  }
  return { ...compilation, phases: [...compilation.phases, 'verify'], diagnostics: [...compilation.diagnostics, ...found] };
}

/**
 * Every pipeline of a checked file through schedule → verify: what
 * `pipec check` proves statically (schedule, deadlock, memory). Returns
 * the selected pipeline's compilation with the others' diagnostics added.
 */
export function verifyEveryPipeline(compilation: Compilation): Compilation {
  if (compilation.origin !== 'program' || compilation.stop !== undefined || hasErrors(compilation.diagnostics) || compilation.programs === undefined) return compilation;
  const checked = { ...compilation, request: { ...compilation.request, until: 'verify' as const } };
  const own = continueCompilation(checked);
  const others = compilation.request.pipeline !== undefined ? [] : [...compilation.programs.values()].filter((program) => program !== compilation.program);
  const extra = others.flatMap((program) => runProgramPhases({ ...checked, program, diagnostics: [], phases: ['parse', 'check'] }).diagnostics);
  return extra.length === 0 ? own : { ...own, diagnostics: [...own.diagnostics, ...extra] };
}

// ─────────────────────── variants of a program ───────────────────────

function recheck(base: Compilation, document: ast.Document, extra: Partial<Compilation> = {}, request: Partial<CompileRequest> = {}): Compilation {
  const parsed = withEntryDocument(base.parsed!, document);
  return runProgramPhases({
    origin: 'program', name: base.name, request: { ...base.request, ...request, until: 'verify' }, sources: base.parsed!.loaded.sources, diagnostics: parsed.diagnostics,
    phases: ['parse'], parsed, host: base.host, ...extra,
  });
}

/** A schedule use as the program would write it: a name, or `auto` with the memory of `reference`'s peak. */
function scheduleUseText(name: string, reference: string): string {
  return name === 'auto' ? `auto(memory: 1 * activations(${reference}))` : name;
}

/**
 * The program with another schedule in its pipeline (for `show --compare`),
 * checked and compiled as if the user had written it. A schedule whose
 * contract needs another stage split than the program's (zb_v on one stage
 * per device, 1f1b on an interleaved program) gets the same model and
 * cluster re-split for it, `stages auto(v·p) balance compute placement P`,
 * and says so in `restaged`. Diagnostics point at the user's schedule or
 * stages line.
 */
export function withSchedule(base: Compilation, name: string): Compilation {
  const key = normaliseScheduleName(name);
  const program = base.program;
  const document = base.parsed === undefined ? undefined : entryDocument(base.parsed);
  if (base.origin !== 'program' || program === undefined || document === undefined) return base;
  if (key === program.pipeline.schedule.name) return continueCompilation(base);
  const pipeline = findPipeline(document, program.pipeline.name);
  if (pipeline === undefined) return base;
  const own = program.pipeline.schedule.name;
  const scheduleText = scheduleUseText(key, own === 'auto' ? '1f1b' : own);
  const asIs = recheck(base, rewriteSchedule(document, pipeline, scheduleText));
  const split = restageFor(key, program);
  if (split === undefined || !needsRestage(asIs)) return asIs;
  const restaged = withStages(base, { ...split, microbatches: program.pipeline.microbatches, schedule: scheduleText });
  return { ...restaged, restaged: `${split.stages} stages${split.stagesPerDevice > 1 ? `, placement ${split.placement}` : ''}` };
}

/** The stage split a schedule's contract asks for (its placement and default v), when it differs from the program's. */
function restageFor(key: string, program: CheckedProgram): Omit<TuneConfiguration, 'microbatches' | 'schedule'> | undefined {
  const declaration = program.schedules.get(key) ?? standardSchedules().get(key);
  if (declaration === undefined) return undefined;
  const contract = scheduleContract(declaration);
  const devices = program.pipeline.devicesPerReplica;
  const perDevice = contract.defaultStagesPerDevice ?? 1;
  const stages = devices * perDevice;
  const placement = contract.placement?.kind;
  if (stages === program.pipeline.stages.length && (placement === undefined || satisfiesPlacement(program.pipeline.placement, placement))) return undefined;
  return { stages, stagesPerDevice: perDevice, placement: placement ?? DEFAULT_PLACEMENT_KIND };
}

/**
 * A schedule written for another split fails with one of these: its
 * contract (requirement, placement), stages it never runs, chunks or a
 * shape it cannot serve.
 */
function needsRestage(compilation: Compilation): boolean {
  return compilation.diagnostics.some((d) => d.severity === 'error' && ['PIPE4032', 'PIPE4012', 'PIPE4019', 'PIPE4008', 'PIPE4020', 'PIPE4018'].includes(d.code));
}

/**
 * The program with another split into stages, microbatch count and
 * schedule (tune's candidates, --compare's re-splits), and the other knobs
 * the configuration sets (replicas, batch, recompute, offload, precision):
 * those members of the AST are replaced, nothing else. With `memoryFloor`,
 * the cluster's compute devices with less memory get that many bytes.
 */
export function withStages(base: Compilation, configuration: TuneConfiguration, options: VariantOptions = {}): Compilation {
  const program = base.program;
  const document = base.parsed === undefined ? undefined : entryDocument(base.parsed);
  if (base.origin !== 'program' || program === undefined || document === undefined) return base;
  const pipeline = findPipeline(document, program.pipeline.name);
  if (pipeline === undefined) return base;
  const rewritten = rewriteDocument(document, pipeline, configuration);
  const { memoryFloor } = options;
  const request = options.autoStagesMemory === undefined ? {} : { autoStagesMemory: options.autoStagesMemory };
  if (memoryFloor === undefined) return recheck(base, rewritten, {}, request);
  // The devices a pipeline computes on that have less than the floor (tune asks "would it fit on larger devices?").
  const small = program.cluster.devices.filter((device) => device.flopsPerSecond > 0 && device.memoryBytes < memoryFloor);
  const raise = (declaration: ast.DeviceDeclaration) => small.some((device) => device.span.file === declaration.span.file && device.span.start === declaration.span.start);
  const larger = rewriteDeviceMemory(rewritten, program.cluster.name, raise, memoryFloor);
  return larger === undefined ? { ...base, diagnostics: [], stop: { kind: 'usage', message: `cluster ${program.cluster.name} is not declared in ${base.name}, so its memory cannot be changed` } } : recheck(base, larger, {}, request);
}

export interface VariantOptions {
  /** Compute devices with less memory get this many bytes ("would it fit on larger devices?"). */
  readonly memoryFloor?: number;
  /** Overrides the base request's autoStagesMemory for the variant. */
  readonly autoStagesMemory?: AutoStagesMemory;
}

/** The entry document of a program compilation, as checked (rewritten ones included): what `tune -o` prints. */
export function compiledDocument(compilation: Compilation): ast.Document | undefined {
  return compilation.parsed === undefined ? undefined : entryDocument(compilation.parsed);
}

// ───────────────────────── bare schedules ─────────────────────────

export interface BareScheduleShape {
  /** A built-in schedule's name (`zb-v` and `zb_v` alike) or `auto`. */
  readonly name: string;
  readonly devices: number;
  readonly microbatches: number;
  /** Stages per device; default from the schedule's contract. */
  readonly stagesPerDevice?: number;
  /** `auto` only: activation units per device (default 2 × stages per device × P). */
  readonly memory?: number;
  /** `auto` only: let the search add memory actions, and their sizes (compiler/autoschedule/bare.ts). */
  readonly recompute?: boolean;
  readonly offload?: boolean;
  readonly checkpoint?: number;
  readonly copyTime?: number;
  /** `auto` only: prove the optimum by branch and bound (compiler/autoschedule/exact.ts). */
  readonly exact?: boolean;
}

function uniformSpec(choice: CostChoice | undefined): CostSpec | { error: string } {
  if (choice === undefined || choice.kind === 'unit') return UNIT_COST_SPEC;
  if (choice.kind === 'uniform') {
    const spec = parseCostSpec(choice.spec);
    return typeof spec === 'string' ? { error: `--cost: ${spec}` } : spec;
  }
  if (choice.kind === 'measured') return { error: '--costs FILE needs a .pipe program (for bare pipelines use --cost F=..,I=..,W=..,C=..)' };
  return UNIT_COST_SPEC;
}

/** The bare shape's size against the limits every phase after it relies on (compiler/limits.ts). */
function bareShapeProblem(devices: number, microbatches: number, stagesPerDevice: number): string | undefined {
  if (devices > MAX_DEVICES) return `${devices} devices; at most ${MAX_DEVICES} are allowed`;
  if (microbatches > MAX_MICROBATCHES) return `${microbatches} microbatches; at most ${MAX_MICROBATCHES} are allowed`;
  const actions = devices * stagesPerDevice * microbatches * 3;
  if (actions > MAX_ACTIONS) return `${devices * stagesPerDevice} stages × ${microbatches} microbatches would have ${actions} compute actions; at most ${MAX_ACTIONS} are allowed`;
  return undefined;
}

function uniformLabel(choice: CostChoice | undefined): string {
  return choice?.kind === 'uniform' ? `costs ${choice.spec}` : 'unit costs';
}

/** A built-in schedule (or `auto`) on a bare pipeline: no model, unit-size stages. */
export function compileBareSchedule(shape: BareScheduleShape, request: CompileRequest = {}): Compilation {
  const key = normaliseScheduleName(shape.name);
  const sources = new Map([[STANDARD_SCHEDULES, standardLibrary(STANDARD_SCHEDULES) ?? '']]);
  const start: Compilation = { origin: 'bare', name: key, request, sources, diagnostics: [], phases: [] };
  const usage = (message: string, phases: readonly Phase[] = ['check']): Compilation => ({ ...start, phases, stop: { kind: 'usage', message } });
  const spec = uniformSpec(request.costs);
  if ('error' in spec) return usage(spec.error);
  const known = builtinScheduleNames();
  if (key !== 'auto' && !known.includes(key)) {
    const suggestion = didYouMean(key, [...known, 'auto']);
    return usage(`unknown schedule '${shape.name}'${suggestion ? `; ${suggestion}` : ''} (built-in: ${known.join(', ')}, auto)`);
  }
  const stagesPerDevice = shape.stagesPerDevice ?? defaultStagesPerDevice(key);
  const describe = `${key} -p ${shape.devices} -m ${shape.microbatches} -v ${stagesPerDevice}`;
  const tooLarge = bareShapeProblem(shape.devices, shape.microbatches, stagesPerDevice);
  if (tooLarge !== undefined) return usage(`${describe}: ${tooLarge}`);
  let schedule: ComputeSchedule;
  // auto with memory actions times copies on the host link it assumed.
  let autoCosts: CostModel | undefined;
  let memoryPlan: MemoryPlanSummary | undefined;
  let exact: ExactVerdict | undefined;
  if (key === 'auto') {
    const auto = bareAutoSchedule({
      devices: shape.devices, microbatches: shape.microbatches, stagesPerDevice, memory: shape.memory, exact: shape.exact,
      cost: request.costs?.kind === 'uniform' ? request.costs.spec : undefined,
      recompute: shape.recompute, offload: shape.offload, checkpoint: shape.checkpoint, copyTime: shape.copyTime,
    });
    if ('error' in auto) return usage(auto.error, ['check', 'schedule']);
    schedule = auto.schedule;
    autoCosts = auto.costs;
    memoryPlan = auto.memoryPlan;
    exact = auto.report?.exact;
  } else {
    const built = builtinSchedule(key, { devices: shape.devices, microbatches: shape.microbatches, stagesPerDevice });
    const error = built.diagnostics.find((d) => d.severity === 'error');
    // A shape the schedule cannot run is a problem of the request, not of the (standard) source.
    if (!built.schedule || error !== undefined) return usage(`${describe}: ${error?.message ?? 'no order'}`, ['check', 'schedule']);
    schedule = built.schedule;
  }
  const problems = validateSchedule(schedule);
  if (problems.length > 0) {
    const first = problemsToDiagnostics(problems, spanOf(STANDARD_SCHEDULES, 0, 0))[0];
    return usage(`${describe}: ${first.message}`, ['check', 'schedule']);
  }
  const costs = autoCosts ?? costModelFromSpec(spec, schedule.stageDevice);
  const scheduled: Compilation = { ...start, phases: ['check', 'schedule'], schedule, costs, costLabel: uniformLabel(request.costs), ...(memoryPlan ? { memoryPlan } : {}), ...(exact ? { exact } : {}) };
  if (stopped(scheduled, 'lower')) return scheduled;
  const lowered = lowerPhase(scheduled);
  return stopped(lowered, 'verify') ? lowered : verifyPhase(lowered);
}

/**
 * '8 stages, 8 microbatches', or with two model copies '8 stages (2 model
 * copies of 4), 8 microbatches (4 per copy)': a schedule's microbatches
 * are counted per copy, a pipeline's in all.
 */
export function describeCopies(schedule: ComputeSchedule): string {
  const copies = schedule.copies ?? 1;
  if (copies <= 1) return `${schedule.stages} stages, ${schedule.microbatches} microbatches`;
  return `${schedule.stages} stages (${copies} model copies of ${schedule.stages / copies}), ${schedule.microbatches * copies} microbatches (${schedule.microbatches} per copy)`;
}

// ───────────────────────── PyTorch CSVs ─────────────────────────

/** A PyTorch schedule CSV (`pipeline_order`): imported, validated, lowered and proven. */
export function compileTorchCsv(text: string, file: string, options: { readonly microbatches?: number } = {}, request: CompileRequest = {}): Compilation {
  const sources = new Map([[file, text]]);
  const start: Compilation = { origin: 'torch-csv', name: file, request, sources, diagnostics: [], phases: [] };
  const spec = uniformSpec(request.costs);
  if ('error' in spec) return { ...start, stop: { kind: 'usage', message: spec.error } };
  const imported = importTorchCsv(text, file, options);
  const parsed: Compilation = { ...start, phases: ['parse'], diagnostics: imported.diagnostics };
  if (!imported.schedule || hasErrors(imported.diagnostics)) return parsed;
  const schedule = imported.schedule;
  const problems = validateSchedule(schedule);
  const scheduled: Compilation = {
    ...parsed, phases: ['parse', 'check', 'schedule'], schedule,
    costs: costModelFromSpec(spec, schedule.stageDevice), costLabel: uniformLabel(request.costs),
    diagnostics: [
      ...imported.diagnostics,
      ...problemsToDiagnostics(problems, spanOf(file, 0, 0), { missingNearStage: true }),
      ...(imported.comms && problems.length === 0 ? verifyCommsOrder(imported.comms, spanOf(file, 0, 0)) : []),
    ],
  };
  if (stopped(scheduled, 'lower')) return scheduled;
  const lowered = lowerPhase(scheduled);
  return stopped(lowered, 'verify') ? lowered : verifyPhase(lowered);
}

// ───────────────────────── simulation ─────────────────────────

export interface SimulatedCompilation {
  readonly compilation: Compilation;
  /** Short: the schedule's name (and its re-split). */
  readonly label: string;
  /** One line: what was simulated, on what, under which costs. */
  readonly title: string;
  readonly schedule: ComputeSchedule;
  readonly result: SimulationResult;
  readonly costs: CostModel;
  readonly timeUnit: TimeUnit;
  readonly memoryUnit: MemoryUnit;
  /** Device capacity in bytes, when a cluster declares it. */
  readonly capacity?: readonly number[];
}

/** Runs the event-driven simulator on a compilation that reached its streams. */
export function simulateCompilation(compilation: Compilation, options: { readonly detail?: boolean } = {}): SimulatedCompilation | undefined {
  const { ir, costs, schedule } = compilation;
  if (ir === undefined || costs === undefined || schedule === undefined) return undefined;
  const abstract = compilation.origin !== 'program' || compilation.request.costs?.kind === 'unit';
  // A bare schedule's devices are ranks; a program's keep the cluster's names.
  const streams = compilation.origin === 'program' ? ir.devices : ir.devices.map(({ rank, instructions }) => ({ rank, instructions }));
  const shards = schedule.vocabShards ?? 0;
  const copied = {
    ...options, ...(schedule.copies === undefined ? {} : { copies: schedule.copies }),
    // the vocabulary shards' passes are drawn as S and T
    ...(shards > 0 ? { vocabShardsFrom: schedule.stages - shards } : {}),
  };
  const result = abstract ? simulate(streams, costs, copied) : simulateIr(ir, costs, copied);
  const shape = `${schedule.devices} devices, ${describeCopies(schedule)}`;
  let label = schedule.name;
  let title: string;
  if (compilation.origin === 'program') {
    const pipeline = compilation.program!.pipeline;
    label = compilation.restaged ? `${pipeline.schedule.name} (${compilation.restaged})` : pipeline.schedule.name;
    title = `pipeline ${pipeline.name} · schedule ${pipeline.schedule.name}${compilation.restaged ? ` (re-split: ${compilation.restaged})` : ''} · ${pipeline.devicesPerReplica} devices${pipeline.replicas > 1 ? ` × ${pipeline.replicas} replicas` : ''}, ${pipeline.stages.length} stages${pipeline.stages.length > pipeline.devicesPerReplica ? ` (placed ${describePlacement(pipeline.placement)})` : ''}, ${pipeline.microbatches} microbatches · ${compilation.costLabel}`;
  } else {
    title = `${compilation.name} · ${shape} · ${compilation.costLabel}`;
  }
  return {
    compilation, label, title, schedule, result, costs,
    timeUnit: abstract ? 'steps' : 'seconds',
    memoryUnit: abstract ? 'activations' : 'bytes',
    ...(abstract ? {} : { capacity: ir.devices.map((device) => device.memory.capacity) }),
  };
}

/** Where a compilation's problems are: a deadlock or a stuck simulation names the devices. */
export function describeStuck(simulated: SimulatedCompilation): string[] {
  return simulated.result.stuck.map((s) => `device ${s.device} is stuck at instruction ${s.index} (${s.instruction.op}), waiting for ${s.waitsFor}`);
}

/** Everything but the timelines (those go to `pipec show --trace`). */
export function simulationSummary(scenario: SimulatedCompilation) {
  const { result } = scenario;
  return {
    schedule: scenario.label,
    title: scenario.title,
    costs: scenario.costs.kind,
    timeUnit: scenario.timeUnit,
    memoryUnit: scenario.memoryUnit,
    makespan: result.makespan,
    bubble: result.bubble,
    devices: result.devices.map((device, d) => ({
      device: device.device,
      label: device.label,
      busy: device.busy,
      idle: device.idle,
      bubble: device.bubble,
      finish: device.finish,
      memory: scenario.capacity ? { ...device.memory, capacity: scenario.capacity[d] } : device.memory,
    })),
    criticalPath: result.criticalPath,
    stuck: result.stuck.map((s) => ({ device: s.device, index: s.index, op: s.instruction.op, waitsFor: s.waitsFor })),
  };
}

/** An order as plain data: one array of actions per device (overlap groups kept). */
export function ordersAsData(schedule: ComputeSchedule) {
  return schedule.orders.map((order) =>
    order.map((action) => (action.overlapGroup === undefined
      ? { operation: action.operation, stage: action.stage, microbatch: action.microbatch }
      : { operation: action.operation, stage: action.stage, microbatch: action.microbatch, overlapGroup: action.overlapGroup })));
}

/** What `check --torch-csv` reports of a valid, proven order: its shape, and its timing and memory under unit costs. */
export function orderSummary(compilation: Compilation) {
  const { schedule } = compilation;
  if (schedule === undefined || !succeeded(compilation)) return undefined;
  const timing = timeSchedule(schedule);
  return {
    ranks: schedule.devices,
    stages: schedule.stages,
    microbatches: schedule.microbatches,
    splitBackward: schedule.splitBackward,
    makespan: timing.makespan,
    bubble: timing.bubble,
    peakActivations: peakLiveActivations(schedule),
  };
}

