// The type checker: loads the entry file and its imports through the host,
// then checks declarations, models, clusters and pipelines, one concern per
// file in this folder. Never throws on bad input: every user mistake is a
// diagnostic. The program for later phases is returned only when there are
// no errors (warnings are fine).

import type { Diagnostic } from '../../grammar/diagnostic.ts';
import { hasErrors } from '../../grammar/diagnostic.ts';
import type { Document, PipelineDeclaration, ScheduleDeclaration } from '../../grammar/ast.ts';
import { LineMap } from '../../grammar/source.ts';
import type { CompilerHost } from '../host.ts';
import type { CheckedModel, CheckedPipeline, CheckedProgram, CheckedStage } from '../program.ts';
import { checkCluster } from './cluster.ts';
import type { ClusterCheckResult } from './cluster.ts';
import { createReporter } from './context.ts';
import type { Reporter } from './context.ts';
import { stageCosts } from './costs.ts';
import { collectDeclarations } from './declarations.ts';
import type { DeclarationTable } from './declarations.ts';
import { checkExternLayer } from './extern.ts';
import type { ExternModuleReader } from './extern.ts';
import { loadDocuments, type LoadedProgram } from './imports.ts';
import { readAccessFor, type ReadAccess } from './readAccess.ts';
import { checkModel, containsFrozen, freezeLayer, trainableParameters } from './model.ts';
import type { ExternLayerEntry, ModelCheckResult } from './model.ts';
import { checkScheduleUse } from './scheduleUse.ts';
import { checkSettings, dataMismatch } from './settings.ts';
import { planStages, type AutoStagesMemory, type PlannedStage } from './stages.ts';
import { checkVocabParallel, withVocabShards } from './vocabParallel.ts';
import { placeSkipEdges, receivedSkipBytes } from './skips.ts';
import { didYouMean, suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_ACTIONS } from '../limits.ts';

export interface CheckOptions {
  /** Which pipeline to hand on (default: the first in the entry file). All are checked. */
  readonly pipeline?: string;
  /**
   * How `stages auto(N)` treats device memory: 'fit' (the default) keeps
   * the split within every device's capacity and reports PIPE3015 when no
   * split fits; 'check-later' splits for balance alone and leaves the
   * overflow to the memory check (PIPE5001), which says by how much (what
   * `pipec tune` reads from a split that does not fit).
   */
  readonly autoStagesMemory?: AutoStagesMemory;
  /**
   * Reads extern layers' TypeScript. The Node edge passes the ts-morph reader
   * (externTypeScript.ts) to check parameters against the implementation;
   * the default only checks that the module exports the layer.
   */
  readonly readExternModule?: ExternModuleReader;
}

/** Where imports and extern modules may come from besides the project (compiler/check/readAccess.ts). */
export interface ReadOptions {
  /** The project folder (default: the entry file's folder); imports and extern modules resolve inside it. */
  readonly projectRoot?: string;
  /** More folders whose .pipe files and extern modules may be read. */
  readonly allowRead?: readonly string[];
}

export interface CheckResult {
  /** The selected pipeline's program (options.pipeline, else the entry file's first), when nothing has errors. */
  readonly program?: CheckedProgram;
  /** Every pipeline's program by name, when nothing has errors (so `pipec check` can verify each schedule). */
  readonly programs?: ReadonlyMap<string, CheckedProgram>;
  readonly diagnostics: Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
}

/** The parse phase's value: the entry file and its imports as documents, with their syntax diagnostics. */
export interface ParsedProgram {
  readonly entryFile: string;
  readonly loaded: LoadedProgram;
  /** The folders imports and extern modules were allowed to come from. */
  readonly access: ReadAccess;
  readonly diagnostics: readonly Diagnostic[];
}

/** Parse phase: reads the entry file and everything it imports through the host. */
export function parseProgram(entryFile: string, host: CompilerHost, readOptions: ReadOptions = {}): ParsedProgram {
  const reporter = createReporter();
  const access = readAccessFor(entryFile, host, readOptions);
  const loaded = loadDocuments(entryFile, host, reporter, access);
  if (!loaded.entryFound) reporter.report(diagnosticMessages.importNotFound, { file: entryFile, start: 0, end: 0 }, { path: entryFile });
  return { entryFile, loaded, access, diagnostics: reporter.diagnostics };
}

/**
 * The parsed program with its entry document replaced by a rewritten one
 * (another schedule, another stage split). The rewritten nodes keep spans in
 * the user's file, so the check that follows points at real lines; nothing
 * is printed and parsed again.
 */
export function withEntryDocument(parsed: ParsedProgram, document: Document): ParsedProgram {
  const documents = parsed.loaded.documents.map((loaded) => (loaded.file === parsed.entryFile && !loaded.isStandardLibrary ? { ...loaded, document } : loaded));
  return { ...parsed, loaded: { ...parsed.loaded, documents } };
}

/** The entry file's document, as parsed (or as rewritten by withEntryDocument). */
export function entryDocument(parsed: ParsedProgram): Document | undefined {
  return parsed.loaded.documents.find((loaded) => loaded.file === parsed.entryFile && !loaded.isStandardLibrary)?.document;
}

export function checkProgram(entryFile: string, host: CompilerHost, options: CheckOptions & ReadOptions = {}): CheckResult {
  return checkParsedProgram(parseProgram(entryFile, host, options), host, options);
}

/** Check phase: names, types, shapes, placement and settings of every declaration. */
export function checkParsedProgram(parsed: ParsedProgram, host: CompilerHost, options: CheckOptions = {}): CheckResult {
  const { entryFile, loaded } = parsed;
  const reporter = createReporter();
  reporter.diagnostics.push(...parsed.diagnostics);
  if (!loaded.entryFound) return { diagnostics: reporter.diagnostics, sources: loaded.sources };
  const table = collectDeclarations(loaded.documents, reporter);

  const externs = new Map<string, ExternLayerEntry>();
  for (const [name, { declaration, file }] of table.externs) {
    externs.set(name, { declaration, checked: checkExternLayer(declaration, file, host, reporter, parsed.access, options.readExternModule) });
  }

  // Every model and cluster the user wrote is checked, used or not.
  const models = new Map<string, ModelCheckResult>();
  const clusters = new Map<string, ClusterCheckResult>();
  for (const { declaration } of table.userDeclarations) {
    if (declaration.kind === 'ModelDeclaration' && table.models.get(declaration.name.name) === declaration) {
      models.set(declaration.name.name, checkModel(declaration, externs, reporter));
    } else if (declaration.kind === 'ClusterDeclaration' && table.clusters.get(declaration.name.name) === declaration) {
      clusters.set(declaration.name.name, checkCluster(declaration, reporter));
    }
  }

  const entryPipelines = table.userDeclarations
    .filter(({ declaration, file }) => declaration.kind === 'PipelineDeclaration' && file === entryFile)
    .map(({ declaration }) => declaration as PipelineDeclaration);
  const userPipelines = table.userDeclarations
    .filter(({ declaration }) => declaration.kind === 'PipelineDeclaration')
    .map(({ declaration }) => declaration as PipelineDeclaration)
    .filter((declaration) => table.pipelines.get(declaration.name.name) === declaration);

  let selected: PipelineDeclaration | undefined;
  if (options.pipeline !== undefined) {
    selected = table.pipelines.get(options.pipeline);
    if (selected === undefined) {
      reporter.report(diagnosticMessages.unknownPipeline, { file: entryFile, start: 0, end: 0 }, { name: options.pipeline, file: entryFile }, {
        hint: didYouMean(options.pipeline, table.pipelines.keys()) ?? (table.pipelines.size === 0 ? 'the file declares no pipeline' : `pipelines: ${[...table.pipelines.keys()].join(', ')}`),
      });
    }
  } else {
    selected = entryPipelines[0] ?? userPipelines[0];
  }

  const programs = new Map<string, CheckedProgram>();
  const schedules = table.schedules as ReadonlyMap<string, ScheduleDeclaration>;
  for (const declaration of userPipelines) {
    const checked = checkPipeline(declaration, table, models, clusters, reporter, options.autoStagesMemory ?? 'fit');
    if (checked === undefined) continue;
    programs.set(declaration.name.name, {
      model: checked.model, cluster: checked.cluster, pipeline: checked.pipeline, schedules, sources: loaded.sources,
    });
  }

  const diagnostics = withoutSyntaxCascades(reporter.diagnostics, loaded.sources);
  const program = selected === undefined ? undefined : programs.get(selected.name.name);
  if (hasErrors(diagnostics) || program === undefined) {
    return { diagnostics, sources: loaded.sources };
  }
  return { program, programs, diagnostics, sources: loaded.sources };
}

function checkPipeline(
  declaration: PipelineDeclaration,
  table: DeclarationTable,
  models: ReadonlyMap<string, ModelCheckResult>,
  clusters: ReadonlyMap<string, ClusterCheckResult>,
  reporter: Reporter,
  autoStagesMemory: AutoStagesMemory,
): { pipeline: CheckedPipeline; model: CheckedProgram['model']; cluster: CheckedProgram['cluster'] } | undefined {
  const name = declaration.name.name;
  const errorsBefore = reporter.diagnostics.filter((d) => d.severity === 'error').length;
  const settings = checkSettings(declaration, reporter);
  const missing = (setting: string, hint: string) => {
    if (settings.suggested.has(setting)) return; // already reported as a misspelling
    reporter.report(diagnosticMessages.missingSetting, declaration.name.span, { name, setting }, { hint });
  };

  let modelResult: ModelCheckResult | undefined;
  if (settings.model === undefined) {
    if (!settings.spans.has('model')) missing('model', 'add model <name>');
  } else {
    modelResult = models.get(settings.model.name);
    if (modelResult === undefined && !table.models.has(settings.model.name)) {
      reporter.report(diagnosticMessages.unknownModel, settings.model.span, { name: settings.model.name }, {
        ...suggestName(settings.model.name, table.models.keys(), settings.model.span),
      });
    }
  }
  let clusterResult: ClusterCheckResult | undefined;
  if (settings.cluster === undefined) {
    if (!settings.spans.has('cluster')) missing('cluster', 'add cluster <name>');
  } else {
    clusterResult = clusters.get(settings.cluster.name);
    if (clusterResult === undefined && !table.clusters.has(settings.cluster.name)) {
      reporter.report(diagnosticMessages.unknownCluster, settings.cluster.span, { name: settings.cluster.name }, {
        ...suggestName(settings.cluster.name, table.clusters.keys(), settings.cluster.span),
      });
    }
  }
  if (settings.batch === undefined && !settings.spans.has('batch')) missing('batch', 'add e.g. batch 64');
  if (settings.microbatches === undefined && !settings.spans.has('microbatches')) missing('microbatches', 'add e.g. microbatches 8');
  if (settings.optimizer === undefined && !settings.spans.has('optimizer')) missing('optimizer', 'add e.g. optimizer adam(lr: 1e-3)');

  let microbatchSize: number | undefined;
  if (settings.batch !== undefined && settings.microbatches !== undefined) {
    const { batch, microbatches } = settings;
    if (microbatches > batch || (batch % microbatches !== 0 && settings.remainder === 'error')) {
      reporter.report(diagnosticMessages.microbatchesDivide, settings.spans.get('microbatches')!, { microbatches, batch }, {
        hint: microbatches > batch
          ? 'use at most as many microbatches as examples in the batch'
          : `use a divisor of ${batch} (e.g. ${nearestDivisor(batch, microbatches)}), or say what to do with the rest: remainder drop | pad`,
      });
    } else {
      microbatchSize = settings.remainder === 'pad' ? Math.ceil(batch / microbatches) : Math.floor(batch / microbatches);
    }
  }

  const plan = modelResult !== undefined && clusterResult !== undefined && !modelResult.table.truncated
    ? planStages({
      pipeline: declaration,
      modelName: modelResult.name,
      table: modelResult.table,
      model: modelResult.model,
      cluster: clusterResult,
      replicas: settings.replicas,
      microbatchSize,
      optimizerStateFactor: settings.optimizer?.stateFactor ?? 0,
      precision: settings.precision,
      autoStagesMemory,
      reporter,
    })
    : undefined;

  if (settings.data !== undefined && modelResult?.model !== undefined) {
    const mismatch = dataMismatch(settings.data, modelResult.model);
    if (mismatch !== undefined) {
      reporter.report(diagnosticMessages.dataMismatch, settings.data.span, { data: settings.data.name, model: modelResult.name, ...mismatch }, {
        related: [{ span: modelResult.model.inputs[0].span, message: 'the model input is declared here' }],
        hint: settings.data.name === 'chars' ? `declare input tokens: i32[batch, ${String(settings.data.args.seq)}] and a target of the same shape` : 'declare input x: f32[batch, 784] and target y: i32[batch]',
      });
    }
  }

  if (plan !== undefined && clusterResult !== undefined) {
    const computeDevices = clusterResult.devices.filter((device) => device.flopsPerSecond > 0).length;
    if (settings.replicas * plan.ranks > computeDevices) {
      reporter.report(diagnosticMessages.replicas, settings.spans.get('replicas') ?? declaration.name.span, {
        problem: `${settings.replicas} replica(s) × ${plan.ranks} pipeline rank(s) need ${settings.replicas * plan.ranks} compute devices, but cluster '${clusterResult.name}' has ${computeDevices}`,
      }, { hint: 'use fewer replicas or stages, or declare more devices' });
    }
  }

  if (plan !== undefined && settings.microbatches !== undefined && plan.placement.copies.length > 1 && settings.microbatches % plan.placement.copies.length !== 0) {
    reporter.report(diagnosticMessages.mirrorOddMicrobatches, settings.spans.get('microbatches')!, { placement: plan.placement.kind, microbatches: settings.microbatches }, {
      hint: `use ${settings.microbatches + 1} microbatches`,
    });
  }

  if (plan !== undefined && settings.microbatches !== undefined) {
    // Every phase after this one builds, proves and simulates stages × microbatches × 3 actions.
    const actions = plan.stages.length * settings.microbatches * 3;
    if (actions > MAX_ACTIONS) {
      reporter.report(diagnosticMessages.tooManyActions, settings.spans.get('microbatches')!, {
        what: `${plan.stages.length} stages × ${settings.microbatches} microbatches`, count: actions, limit: MAX_ACTIONS,
      });
    }
  }

  const vocab = settings.vocabParallel !== undefined && plan !== undefined && modelResult?.model !== undefined
    ? checkVocabParallel(settings.vocabParallel, modelResult.model, plan.placement, plan.stages[plan.stages.length - 1], reporter)
    : undefined;
  const skipEdges = plan !== undefined && modelResult?.model !== undefined && microbatchSize !== undefined
    ? placeSkipEdges(modelResult.model, plan, microbatchSize, settings.precision, reporter)
    : [];

  const schedule = checkScheduleUse(
    declaration,
    table.schedules,
    plan === undefined ? undefined : { placement: plan.placement, microbatches: settings.microbatches, ...(settings.vocabParallel === undefined || vocab !== undefined ? { vocabShards: vocab?.shards ?? 0 } : {}) },
    reporter,
  );

  const frozen = plan !== undefined && modelResult?.model !== undefined ? planFrozen(declaration, modelResult.model, plan.stages, reporter) : undefined;

  const errorsAfter = reporter.diagnostics.filter((d) => d.severity === 'error').length;
  const model = frozen?.model ?? modelResult?.model;
  const cluster = clusterResult?.cluster;
  if (errorsAfter > errorsBefore || model === undefined || cluster === undefined || plan === undefined
    || schedule === undefined || settings.optimizer === undefined || microbatchSize === undefined
    || settings.batch === undefined || settings.microbatches === undefined || frozen === undefined) {
    return undefined;
  }

  const declaredStages: CheckedStage[] = plan.stages.map((stage, index) => {
    const layers = stage.layers.map((layer) => model.layers[layer]);
    const costs = stageCosts(layers, microbatchSize, settings.precision);
    // A received skip is kept from its recv until the stage's B or I, then freed with the rest of the I's stash.
    const skipBytes = receivedSkipBytes(skipEdges, index);
    return {
      index,
      name: stage.name,
      device: stage.rank,
      layers: stage.layers,
      inputShape: layers[0].inputShape,
      outputShape: layers[layers.length - 1].outputShape,
      recompute: stage.recompute,
      offload: stage.offload,
      frozen: frozen.stageFrozen[index],
      forwardOnly: frozen.forwardOnly[index],
      costs: skipBytes === 0 ? costs : { ...costs, activationBytes: costs.activationBytes + skipBytes, receivedSkipBytes: skipBytes },
      span: stage.span,
    };
  });
  // A mirrored placement runs a second copy of every declared stage on the
  // mirrored rank: the same layers (so PIPE3004's one-stage-per-layer rule
  // holds for what the user wrote), listed after copy 0 so copy 1's stage s
  // is stage n + s (compiler/placement.ts).
  const copied: CheckedStage[] = [...declaredStages, ...plan.placement.copies.slice(1).flatMap((ranks, k) =>
    declaredStages.map((stage) => ({
      ...stage, index: (k + 1) * declaredStages.length + stage.index, name: `${stage.name}_copy${k + 1}`,
      device: ranks[stage.index], copy: k + 1, modelStage: stage.index,
    })))];
  // vocab_parallel: the output layer leaves the last stage for one shard stage per rank (vocabParallel.ts).
  const stages = vocab === undefined ? copied : withVocabShards(copied, vocab, model, microbatchSize, settings.precision);
  return {
    model,
    cluster,
    pipeline: {
      name,
      batch: settings.batch,
      microbatches: settings.microbatches,
      microbatchSize,
      remainder: settings.remainder,
      replicas: settings.replicas,
      devicesPerReplica: plan.ranks,
      placement: plan.placement,
      stages,
      skipEdges,
      schedule,
      optimizer: settings.optimizer,
      precision: settings.precision,
      ...(settings.data === undefined ? {} : { data: settings.data }),
      seed: settings.seed,
      ...(settings.steps === undefined ? {} : { steps: settings.steps }),
      ...(vocab === undefined ? {} : { vocabParallel: vocab }),
      span: declaration.span,
    },
  };
}

/**
 * Which layers and stages are frozen. A `frozen` stage freezes its layers;
 * a stage is frozen when every layer in it is (or has no parameters, with at
 * least one frozen). A frozen stage whose predecessors are all frozen is
 * forward-only: no gradient ever reaches it. Reports a pipeline with nothing
 * to train (PIPE3240) and `recompute` / `offload` of a forward-only stage,
 * which keeps no stash (PIPE3241).
 */
function planFrozen(pipeline: PipelineDeclaration, model: CheckedModel, stages: readonly PlannedStage[], reporter: Reporter): {
  readonly model: CheckedModel;
  readonly stageFrozen: readonly boolean[];
  readonly forwardOnly: readonly boolean[];
} {
  const frozenByStage = new Set(stages.filter((stage) => stage.frozen).flatMap((stage) => stage.layers));
  const layers = model.layers.map((layer, index) => (frozenByStage.has(index) && layer.frozen !== true ? freezeLayer(layer) : layer));
  const stageFrozen = stages.map((stage) => stage.frozen || (stage.layers.some((index) => containsFrozen(layers[index]))
    && stage.layers.every((index) => trainableParameters(layers[index]) === 0)));
  const forwardOnly = stageFrozen.map((_, index) => stageFrozen.slice(0, index + 1).every(Boolean));
  if (stages.length > 0 && forwardOnly[stages.length - 1]) {
    reporter.report(diagnosticMessages.everyStageFrozen, stages[stages.length - 1].span, { pipeline: pipeline.name.name });
  } else {
    for (const member of pipeline.members) {
      if (member.kind !== 'StageAttribute' || member.attribute === 'frozen') continue;
      for (const identifier of member.stages) {
        const index = stages.findIndex((stage) => stage.name === identifier.name);
        if (index >= 0 && forwardOnly[index]) {
          reporter.report(diagnosticMessages.forwardOnlyAttribute, identifier.span, { stage: identifier.name, verb: member.attribute === 'recompute' ? 'recompute' : 'offload' });
        }
      }
    }
  }
  return { model: { ...model, layers }, stageFrozen, forwardOnly };
}

function nearestDivisor(batch: number, wanted: number): number {
  // Divisors come in pairs d, batch / d: walking to the square root finds them all.
  let best = 1;
  const consider = (d: number) => {
    if (Math.abs(d - wanted) < Math.abs(best - wanted) || (Math.abs(d - wanted) === Math.abs(best - wanted) && d < best)) best = d;
  };
  for (let d = 1; d * d <= batch; d++) {
    if (batch % d !== 0) continue;
    consider(d);
    consider(batch / d);
  }
  return best;
}

/** Semantic errors that only restate a syntax error: anything that is missing is likely lost in the broken text. */
const CASCADE_CODES: ReadonlySet<string> = new Set([diagnosticMessages.missingSetting.code, diagnosticMessages.incompleteModel.code]);

/**
 * After a syntax error the parser recovers with a partial tree; checking it
 * finds "missing" things and odd names on the broken line that the user did
 * not write. Keep the syntax errors and drop semantic ones on the same line,
 * and "has no ..." diagnostics in a file with syntax errors.
 */
function withoutSyntaxCascades(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>): Diagnostic[] {
  const isSyntax = (diagnostic: Diagnostic) => diagnostic.code.startsWith('PIPE1');
  const syntax = diagnostics.filter(isSyntax);
  if (syntax.length === 0) return [...diagnostics];
  const lineMaps = new Map<string, LineMap>();
  const lineOf = (file: string, offset: number) => {
    let map = lineMaps.get(file);
    if (map === undefined) lineMaps.set(file, (map = new LineMap(sources.get(file) ?? '')));
    return map.locate(offset).line;
  };
  const brokenLines = new Set(syntax.map((d) => `${d.span.file}:${lineOf(d.span.file, d.span.start)}`));
  const brokenFiles = new Set(syntax.map((d) => d.span.file));
  return diagnostics.filter((diagnostic) => {
    if (isSyntax(diagnostic)) return true;
    if (CASCADE_CODES.has(diagnostic.code) && brokenFiles.has(diagnostic.span.file)) return false;
    return !brokenLines.has(`${diagnostic.span.file}:${lineOf(diagnostic.span.file, diagnostic.span.start)}`);
  });
}
