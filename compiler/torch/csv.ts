// PyTorch's pipeline schedule CSV (torch.distributed.pipelining): one row per
// rank, one cell per step. Compute cells are `<stage><op><microbatch>` with
// op F, I, W or B (global stage indices), overlapped pairs are written
// `(0F7;7B3)OVERLAP_F_B`, empty cells are idle steps. The compute_comms
// flavour adds `<stage>SEND_F<mb>`, `RECV_F`, `SEND_B`, `RECV_B` cells.
//
// Import keeps each action's cell as its span (offsets into the CSV text),
// so validation problems point at file:row:col of the offending cell.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import { spanOf, type Span } from '../../grammar/source.ts';
import { classifyPlacement, type Placement } from '../placement.ts';
import type { ComputeAction, ComputeOperation, ComputeSchedule } from '../schedule/types.ts';
import { unitCostModel, type CostModel } from '../cost/types.ts';
import { lowerCommunication } from '../lower/comms.ts';
import { commsCell, computeUnits, unitCell, type CommsAction, type CommsOrder, type TransferDirection } from '../lower/commsOrder.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { containsFrozen } from '../check/model.ts';
import type { CheckedProgram } from '../program.ts';
import { MAX_ACTIONS } from '../limits.ts';

// ───────────────────────────── export ─────────────────────────────

export interface TorchCsvOptions {
  /** Add SEND_F/RECV_F/SEND_B/RECV_B cells (PyTorch's compute_comms format). */
  readonly comms: boolean;
  /**
   * With comms: the costs whose link times place the receives (pipec's
   * lowering, compiler/lower/comms.ts); absent: unit costs, free links.
   */
  readonly costs?: CostModel;
}

/**
 * Why a program cannot be exported to PyTorch (`csv`: the schedule CSV,
 * `program`: the generated train.py), or undefined when it can. Two model
 * copies sharing the ranks (a mirrored placement) are refused: PyTorch
 * would build one module per stage index with its own weights, so the two
 * copies of a stage would train apart and their gradients never be summed;
 * a CSV that it then runs wrongly is worse than none. Located at the stages
 * declaration that asked for the mirrored placement.
 */
export function torchExportRefusal(program: CheckedProgram, target: 'csv' | 'program'): Diagnostic | undefined {
  const { pipeline } = program;
  const vocab = pipeline.vocabParallel;
  if (vocab !== undefined) {
    return makeDiagnostic(diagnosticMessages.torchVocabParallel, vocab.span, { layer: vocab.name, reason: `${VOCAB_PARALLEL_CSV_REASON} (split over ${vocab.shards} ranks)` }, {
      hint: 'export the pipeline without vocab_parallel (the layer then runs whole on the last stage), or run it with pipec train',
    });
  }
  // PyTorch's PipelineStage passes one activation to the next stage and one gradient back, nothing else:
  // a skip between stages has no channel there. Located at the merge's `skip` argument.
  const crossing = pipeline.skipEdges.find((edge) => edge.sourceStage !== edge.mergeStage);
  if (crossing !== undefined) {
    const skip = program.model.skips.find((candidate) => candidate.source === crossing.source && candidate.merge === crossing.merge);
    return makeDiagnostic(target === 'csv' ? diagnosticMessages.torchCsvSkipEdges : diagnosticMessages.torchProgramSkipEdges, skip?.span ?? pipeline.span, {
      source: program.model.layers[crossing.source].name, merge: program.model.layers[crossing.merge].name,
      sourceStage: pipeline.stages[crossing.sourceStage].name, mergeStage: pipeline.stages[crossing.mergeStage].name,
    }, { hint: 'put both ends of every skip in one stage to export, or train the program with pipec train' });
  }
  const frozen = frozenRefusal(program);
  if (pipeline.placement.copies.length <= 1) return frozen;
  const perCopy = pipeline.stages.length / pipeline.placement.copies.length;
  const copy = pipeline.stages[perCopy + (pipeline.devicesPerReplica - 1)] ?? pipeline.stages[perCopy];
  const reason = `placement ${pipeline.placement.kind}: ${TWO_COPIES_CSV_REASON} (rank ${copy.device} runs stage ${copy.index}, a copy of stage ${copy.modelStage ?? copy.index})`;
  return makeDiagnostic(target === 'csv' ? diagnosticMessages.torchCsvTwoCopies : diagnosticMessages.torchProgramTwoCopies, pipeline.stages[0].span, { schedule: pipeline.schedule.name, reason }, {
    hint: 'export a single-copy schedule (dualpipe_v runs DualPipe folded onto one copy), or run the mirrored program with pipec train',
  });
}

/**
 * A frozen layer or stage is refused too: PyTorch's schedules run a backward
 * for every stage a rank holds (a forward-only stage would be handed
 * gradients nobody sends), and the generated stage modules train every
 * parameter, so a frozen layer would change. Located at the first stage
 * with a frozen layer.
 */
function frozenRefusal(program: CheckedProgram): Diagnostic | undefined {
  const { pipeline, model } = program;
  const stage = pipeline.stages.find((candidate) => candidate.frozen || candidate.layers.some((index) => containsFrozen(model.layers[index])));
  if (stage === undefined) return undefined;
  const reason = stage.forwardOnly
    ? "it runs forward only, but PyTorch's pipeline schedules run a backward for every stage a rank holds"
    : "it holds a frozen layer, but the generated stage modules train every parameter they have";
  return makeDiagnostic(diagnosticMessages.torchFrozen, stage.span, { stage: stage.name, reason }, {
    hint: 'train the frozen program with pipec train, or export it without frozen layers',
  });
}

export function exportTorchCsv(schedule: ComputeSchedule, options: TorchCsvOptions): string {
  // Callers refuse mirrored programs with torchExportRefusal first; a schedule with copies never becomes a CSV.
  if ((schedule.copies ?? 1) > 1) throw new Error(`exportTorchCsv: schedule ${schedule.name} has ${schedule.copies} model copies, which PyTorch's CSV cannot express`);
  if ((schedule.vocabShards ?? 0) > 0) throw new Error(`exportTorchCsv: schedule ${schedule.name} has vocabulary shards, which PyTorch's CSV cannot express`);
  if (!options.comms) return formatRows(computeOnlyRows(schedule));
  return formatCommsCsv(lowerCommunication(schedule, options.costs ?? unitCostModel(schedule.stages)));
}

/** A comms-annotated order (compiler/lower/comms.ts) in PyTorch's compute_comms CSV. */
export function formatCommsCsv(order: CommsOrder): string {
  return formatRows(order.rows.map((row) => row.map(commsCell)));
}

function formatRows(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.join(',')).join('\n') + '\n';
}

/** Each device's order in PyTorch's cell notation (`0F3`, `(7F2;0B0)OVERLAP_F_B`), for views of any schedule, mirrored ones too. */
export function scheduleCells(schedule: ComputeSchedule): string[][] {
  return computeOnlyRows(schedule);
}

/** Why a schedule with two model copies is never written as a PyTorch CSV (see torchExportRefusal). */
export const TWO_COPIES_CSV_REASON = 'the schedule runs two copies of each stage on different ranks, and PyTorch keys stages by index per rank: '
  + 'it would train the copies as separate stages with their own weights and never sum their gradients';

/** Why a vocabulary-parallel schedule is never written for PyTorch (see torchExportRefusal). */
export const VOCAB_PARALLEL_CSV_REASON = 'PyTorch\'s pipelining runs each stage on one rank, and has no pass that spans every rank: '
  + 'the S and T passes of the sharded output layer, their exchange of row maxima and sums, and the sum of their input gradients';

function computeOnlyRows(schedule: ComputeSchedule): string[][] {
  return schedule.orders.map((order) => computeUnits(order).map(unitCell));
}

// ───────────────────────────── import ─────────────────────────────

export interface TorchCsvImport {
  readonly schedule?: ComputeSchedule;
  /**
   * The stage → rank map the rows imply, classified by the same code as a
   * pipeline's (loop, v, wave or explicit), so the order can be held against
   * a schedule's contract (compiler/schedule/contract.ts contractShapeOf).
   */
  readonly placement?: Placement;
  /**
   * A compute_comms file's rows as written, SEND / RECV / REDUCE_GRAD cells
   * included (absent when the file has no communication cells), for the
   * proof that PyTorch's runtime can run them (proveCommsOrderDeadlockFree).
   */
  readonly comms?: CommsOrder;
  readonly diagnostics: Diagnostic[];
}

const COMPUTE_CELL = /^(\d+)(F|I|W|B)(\d+)$/;
const OVERLAP_CELL = /^\((.*)\)OVERLAP_F_B$/;
const COMMS_CELL = /^(\d+)(SEND_F|RECV_F|SEND_B|RECV_B)(\d+)$/;
const REDUCE_GRAD_CELL = /^(\d+)REDUCE_GRAD$/;
const IGNORED_CELL = /^-?\d*(REDUCE_GRAD|UNSHARD|RESHARD)\d*$/;

/** A cell of a compute_comms row: a compute unit (index into the rank's actions), a transfer or REDUCE_GRAD. */
type ParsedCommsCell =
  | { readonly kind: 'compute'; readonly first: number; readonly count: number; readonly span: Span }
  | { readonly kind: 'send' | 'recv'; readonly direction: TransferDirection; readonly stage: number; readonly microbatch: number; readonly span: Span }
  | { readonly kind: 'reduce_grad'; readonly stage: number; readonly span: Span };

/**
 * A stage or microbatch index no order of at most MAX_ACTIONS actions can
 * use; refused before any array is sized by it.
 */
function indexTooLarge(match: RegExpExecArray): { what: string; value: string; limit: number } | undefined {
  for (const [what, text] of [['stage', match[1]], ['microbatch', match[3]]] as const) {
    if (Number(text) >= MAX_ACTIONS) return { what, value: text, limit: MAX_ACTIONS - 1 };
  }
  return undefined;
}

interface ParsedAction {
  readonly operation: ComputeOperation;
  readonly stage: number;
  readonly microbatch: number;
  readonly overlapGroup?: number;
  readonly span: Span;
}

/**
 * Reads a PyTorch schedule CSV. The microbatch count is, unless given, the
 * largest number of distinct microbatches any stage runs forward — so a
 * row that names microbatch m (one too many) is reported as out of range
 * instead of silently growing the pipeline.
 */
export function importTorchCsv(text: string, fileName: string, options: { readonly microbatches?: number } = {}): TorchCsvImport {
  const diagnostics: Diagnostic[] = [];
  const rows: ParsedAction[][] = [];
  const commsRows: ParsedCommsCell[][] = [];
  let commsCells = 0;
  let group = 0;
  let lineStart = 0;
  const lines = text.split('\n');
  for (let line = 0; line < lines.length; line++) {
    const raw = lines[line].endsWith('\r') ? lines[line].slice(0, -1) : lines[line];
    const rowStart = lineStart;
    lineStart += lines[line].length + 1;
    if (raw.trim() === '' && line === lines.length - 1) break; // trailing newline
    const row: ParsedAction[] = [];
    const commsRow: ParsedCommsCell[] = [];
    let cellStart = 0;
    for (const rawCell of raw.split(',')) {
      const offset = rowStart + cellStart;
      cellStart += rawCell.length + 1;
      const leading = rawCell.length - rawCell.trimStart().length;
      let cell = rawCell.trim();
      let cellOffset = offset + leading;
      if (cell.startsWith('"') && cell.endsWith('"') && cell.length >= 2) {
        cell = cell.slice(1, -1);
        cellOffset++;
      }
      const span = spanOf(fileName, cellOffset, cellOffset + Math.max(cell.length, 0));
      const reduceGrad = REDUCE_GRAD_CELL.exec(cell);
      if (reduceGrad) {
        commsRow.push({ kind: 'reduce_grad', stage: Number(reduceGrad[1]), span });
        continue;
      }
      if (cell === '' || IGNORED_CELL.test(cell)) continue;
      const compute = COMPUTE_CELL.exec(cell);
      const tooLarge = compute ? indexTooLarge(compute) : undefined;
      if (tooLarge !== undefined) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.csvIndexTooLarge, span, { cell, ...tooLarge }));
        continue;
      }
      if (compute) {
        commsRow.push({ kind: 'compute', first: row.length, count: 1, span });
        row.push({ stage: Number(compute[1]), operation: compute[2] as ComputeOperation, microbatch: Number(compute[3]), span });
        continue;
      }
      const overlap = OVERLAP_CELL.exec(cell);
      if (overlap) {
        const parts = overlap[1].split(';');
        const parsed = parts.map((part) => COMPUTE_CELL.exec(part.trim()));
        const tooLarge = parsed.map((match) => (match === null ? undefined : indexTooLarge(match))).find((problem) => problem !== undefined);
        if (tooLarge !== undefined) {
          diagnostics.push(makeDiagnostic(diagnosticMessages.csvIndexTooLarge, span, { cell, ...tooLarge }));
          continue;
        }
        if (parsed.every((match) => match !== null)) {
          group++;
          commsRow.push({ kind: 'compute', first: row.length, count: parts.length, span });
          let partOffset = cellOffset + 1;
          for (let index = 0; index < parts.length; index++) {
            const match = parsed[index]!;
            const partSpan = spanOf(fileName, partOffset, partOffset + parts[index].length);
            partOffset += parts[index].length + 1;
            row.push({ stage: Number(match[1]), operation: match[2] as ComputeOperation, microbatch: Number(match[3]), overlapGroup: group, span: partSpan });
          }
          continue;
        }
      }
      const comms = COMMS_CELL.exec(cell);
      if (comms) {
        commsCells++;
        commsRow.push({
          kind: comms[2].startsWith('SEND') ? 'send' : 'recv',
          direction: comms[2].endsWith('_F') ? 'forward' : 'backward',
          stage: Number(comms[1]),
          microbatch: Number(comms[3]),
          span,
        });
        diagnostics.push(makeDiagnostic(diagnosticMessages.csvCommsCell, span, { cell }));
        continue;
      }
      diagnostics.push(makeDiagnostic(diagnosticMessages.csvBadCell, span, { cell }));
    }
    rows.push(row);
    commsRows.push(commsRow);
  }
  const fileSpan = spanOf(fileName, 0, Math.min(text.length, 1));
  if (rows.every((row) => row.length === 0)) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.csvEmpty, fileSpan));
    return { diagnostics };
  }

  // Stage placement: the rank whose row runs the stage.
  let stageCount = 0;
  for (const row of rows) for (const action of row) stageCount = Math.max(stageCount, action.stage + 1);
  const stageDevice = new Array<number>(stageCount).fill(-1);
  const forwardMicrobatches = Array.from({ length: stageCount }, () => new Set<number>());
  for (let rank = 0; rank < rows.length; rank++) {
    for (const action of rows[rank]) {
      if (action.operation === 'F') forwardMicrobatches[action.stage].add(action.microbatch);
      const placed = stageDevice[action.stage];
      if (placed === -1) stageDevice[action.stage] = rank;
      else if (placed !== rank) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.csvStageOnTwoRanks, action.span, { stage: action.stage, rank, other: placed }));
      }
    }
  }
  // A stage that never appears: place it loop-style so validation can say
  // that its actions are missing.
  for (let s = 0; s < stageCount; s++) if (stageDevice[s] === -1) stageDevice[s] = s % rows.length;
  const microbatches = options.microbatches ?? forwardMicrobatches.reduce((most, set) => Math.max(most, set.size), 0);
  const actions = rows.reduce((sum, row) => sum + row.length, 0);
  if (stageCount * microbatches * 3 > MAX_ACTIONS || actions > MAX_ACTIONS) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.tooManyActions, fileSpan, {
      what: `this order of ${stageCount} stages × ${microbatches} microbatches`, count: Math.max(actions, stageCount * microbatches * 3), limit: MAX_ACTIONS,
    }));
    return { diagnostics };
  }
  const orders: ComputeAction[][] = rows.map((row) => row.map((action) => ({ ...action })));
  const splitBackward = orders.some((order) => order.some((action) => action.operation === 'I' || action.operation === 'W'));
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const schedule: ComputeSchedule = {
    name: `csv:${base}`,
    devices: rows.length,
    stages: stageCount,
    microbatches,
    stageDevice,
    splitBackward,
    orders,
  };
  const comms = commsCells === 0 ? undefined : commsOrderOf(schedule, commsRows);
  return { schedule, placement: classifyPlacement(stageDevice, rows.length), ...(comms ? { comms } : {}), diagnostics };
}

function commsOrderOf(schedule: ComputeSchedule, rows: readonly (readonly ParsedCommsCell[])[]): CommsOrder {
  const peerOf = (stage: number) => schedule.stageDevice[stage] ?? -1;
  return {
    schedule,
    lowering: 'imported',
    rows: rows.map((row, rank) => row.map((cell): CommsAction => {
      switch (cell.kind) {
        case 'compute': return { kind: 'compute', actions: schedule.orders[rank].slice(cell.first, cell.first + cell.count), span: cell.span };
        case 'reduce_grad': return cell;
        case 'send':
        case 'recv': {
          // The peer runs the stage on the other side of the link.
          const sendTo = cell.direction === 'forward' ? cell.stage + 1 : cell.stage - 1;
          const recvFrom = cell.direction === 'forward' ? cell.stage - 1 : cell.stage + 1;
          return { ...cell, peer: peerOf(cell.kind === 'send' ? sendTo : recvFrom) };
        }
      }
    })),
  };
}
