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
import { actionLabel } from '../schedule/actions.ts';
import type { ComputeAction, ComputeOperation, ComputeSchedule } from '../schedule/types.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_ACTIONS } from '../limits.ts';

// ───────────────────────────── export ─────────────────────────────

export interface TorchCsvOptions {
  /** Add SEND_F/RECV_F/SEND_B/RECV_B cells (PyTorch's compute_comms format). */
  readonly comms: boolean;
}

export function exportTorchCsv(schedule: ComputeSchedule, options: TorchCsvOptions): string {
  const rows = options.comms ? computeCommsRows(schedule) : computeOnlyRows(schedule);
  return rows.map((row) => row.join(',')).join('\n') + '\n';
}

function computeOnlyRows(schedule: ComputeSchedule): string[][] {
  return schedule.orders.map((order) => {
    const cells: string[] = [];
    let k = 0;
    while (k < order.length) {
      const group = order[k].overlapGroup;
      let end = k + 1;
      if (group !== undefined) while (end < order.length && order[end].overlapGroup === group) end++;
      cells.push(end - k > 1 ? `(${order.slice(k, end).map(actionLabel).join(';')})OVERLAP_F_B` : actionLabel(order[k]));
      k = end;
    }
    return cells;
  });
}

/**
 * The compute_comms flavour: after each compute action whose result crosses
 * to another rank, a SEND cell on this rank and the matching RECV cell on
 * the receiver's row. As in PyTorch's lowering, ranks advance in turns and
 * a rank places its next compute action only once the input it needs has a
 * RECV on its row (or was produced on the rank itself), so every RECV
 * precedes the compute that uses it. Each stage's REDUCE_GRAD follows its
 * last B or W, as PyTorch's own lowering places it. The queues make it linear time.
 */
function computeCommsRows(schedule: ComputeSchedule): string[][] {
  const { stages, microbatches, stageDevice } = schedule;
  const rows: string[][] = schedule.orders.map(() => []);
  const units = computeOnlyRows(schedule); // cell text per unit
  const unitActions = schedule.orders.map((order) => {
    const groups: ComputeAction[][] = [];
    let k = 0;
    while (k < order.length) {
      const group = order[k].overlapGroup;
      let end = k + 1;
      if (group !== undefined) while (end < order.length && order[end].overlapGroup === group) end++;
      groups.push(order.slice(k, end));
      k = end;
    }
    return groups;
  });
  // available[pair*2 + 0] = forward input of (stage, mb) is on its rank;
  // available[pair*2 + 1] = gradient input of (stage, mb) is on its rank.
  const available = new Uint8Array(stages * microbatches * 2);
  const key = (stage: number, microbatch: number, gradient: boolean) => (stage * microbatches + microbatch) * 2 + (gradient ? 1 : 0);
  const ready = (action: ComputeAction) => {
    if (action.operation === 'F') return action.stage === 0 || available[key(action.stage, action.microbatch, false)] === 1;
    if (action.operation === 'B' || action.operation === 'I') return action.stage === stages - 1 || available[key(action.stage, action.microbatch, true)] === 1;
    return true;
  };
  const next = new Int32Array(schedule.devices);
  const gradientsDone = new Int32Array(stages);
  let remaining = unitActions.reduce((sum, groups) => sum + groups.length, 0);
  while (remaining > 0) {
    let progress = false;
    for (let rank = 0; rank < schedule.devices; rank++) {
      // One action per rank per turn, as PyTorch's lowering does, so each
      // RECV lands on the receiver's row near the step that needs it.
      if (next[rank] < unitActions[rank].length) {
        const group = unitActions[rank][next[rank]];
        if (!group.every(ready)) continue;
        rows[rank].push(units[rank][next[rank]]);
        for (const action of group) {
          if (action.operation === 'F' && action.stage < stages - 1) {
            const peer = stageDevice[action.stage + 1];
            if (peer !== rank) {
              rows[rank].push(`${action.stage}SEND_F${action.microbatch}`);
              rows[peer].push(`${action.stage + 1}RECV_F${action.microbatch}`);
            }
            available[key(action.stage + 1, action.microbatch, false)] = 1;
          } else if ((action.operation === 'B' || action.operation === 'I') && action.stage > 0) {
            const peer = stageDevice[action.stage - 1];
            if (peer !== rank) {
              rows[rank].push(`${action.stage}SEND_B${action.microbatch}`);
              rows[peer].push(`${action.stage - 1}RECV_B${action.microbatch}`);
            }
            available[key(action.stage - 1, action.microbatch, true)] = 1;
          }
        }
        // After a stage's last weight gradient (its m-th B or W), PyTorch
        // runs REDUCE_GRAD, which also scales the summed gradients by 1/m;
        // a compute_comms file runs as written, so it must say so itself.
        for (const action of group) {
          if (action.operation !== 'B' && action.operation !== 'W') continue;
          if (++gradientsDone[action.stage] === microbatches) rows[rank].push(`${action.stage}REDUCE_GRAD`);
        }
        next[rank]++;
        remaining--;
        progress = true;
      }
    }
    if (!progress) throw new Error('exportTorchCsv: the order cannot be lowered to sends and receives (validate it first)');
  }
  return rows;
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
  readonly diagnostics: Diagnostic[];
}

const COMPUTE_CELL = /^(\d+)(F|I|W|B)(\d+)$/;
const OVERLAP_CELL = /^\((.*)\)OVERLAP_F_B$/;
const COMMS_CELL = /^(\d+)(SEND_F|RECV_F|SEND_B|RECV_B)(\d+)$/;
const IGNORED_CELL = /^-?\d*(REDUCE_GRAD|UNSHARD|RESHARD)\d*$/;

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
  let group = 0;
  let lineStart = 0;
  const lines = text.split('\n');
  for (let line = 0; line < lines.length; line++) {
    const raw = lines[line].endsWith('\r') ? lines[line].slice(0, -1) : lines[line];
    const rowStart = lineStart;
    lineStart += lines[line].length + 1;
    if (raw.trim() === '' && line === lines.length - 1) break; // trailing newline
    const row: ParsedAction[] = [];
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
      if (cell === '' || IGNORED_CELL.test(cell)) continue;
      const compute = COMPUTE_CELL.exec(cell);
      const tooLarge = compute ? indexTooLarge(compute) : undefined;
      if (tooLarge !== undefined) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.csvIndexTooLarge, span, { cell, ...tooLarge }));
        continue;
      }
      if (compute) {
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
      if (COMMS_CELL.test(cell)) {
        diagnostics.push(makeDiagnostic(diagnosticMessages.csvCommsCell, span, { cell }));
        continue;
      }
      diagnostics.push(makeDiagnostic(diagnosticMessages.csvBadCell, span, { cell }));
    }
    rows.push(row);
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
  return { schedule, placement: classifyPlacement(stageDevice, rows.length), diagnostics };
}
