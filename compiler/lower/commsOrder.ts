// The comms-annotated order: a rank's row of compute, SEND, RECV and
// REDUCE_GRAD cells, as PyTorch's compute_comms CSV spells it, and the
// vocabulary the lowering (comms.ts), the proof and the simulator
// (compiler/schedule/commsExecution.ts) share: which transfer an action
// consumes or produces, and a dense key per transfer.

import type { Span } from '../../grammar/source.ts';
import { actionLabel } from '../schedule/actions.ts';
import type { ComputeAction, ComputeSchedule } from '../schedule/types.ts';

/** A forward transfer carries stage s's output to stage s+1; a backward one stage s's input gradient to stage s-1. */
export type TransferDirection = 'forward' | 'backward';

/**
 * One cell of a comms-annotated row. `stage` is the cell's stage in
 * PyTorch's notation: the sending stage for a SEND, the receiving stage
 * for a RECV (`0SEND_F3` pairs with `1RECV_F3`, `2SEND_B3` with `1RECV_B3`).
 */
export type CommsAction =
  | { readonly kind: 'compute'; readonly actions: readonly ComputeAction[]; readonly span?: Span }
  | {
    readonly kind: 'send' | 'recv';
    readonly direction: TransferDirection;
    readonly stage: number;
    readonly microbatch: number;
    /** The rank at the other end. */
    readonly peer: number;
    readonly span?: Span;
  }
  | { readonly kind: 'reduce_grad'; readonly stage: number; readonly span?: Span };

export type CommsLowering = 'pipec' | 'pytorch' | 'imported';

export interface CommsOrder {
  /** The compute order the rows carry. */
  readonly schedule: ComputeSchedule;
  /** Who placed the SEND / RECV cells. */
  readonly lowering: CommsLowering;
  /** How: events in simulated time, or ranks in turns (PyTorch's way); absent for an imported file. */
  readonly placement?: 'simulated time' | 'turns';
  /** rows[rank] = the rank's actions, communication included, in order. */
  readonly rows: readonly (readonly CommsAction[])[];
}

export type TransferAction = Extract<CommsAction, { kind: 'send' | 'recv' }>;

/** The stage whose output (forward) or input gradient (backward) a SEND or RECV carries. */
export function producingStage(action: TransferAction): number {
  if (action.kind === 'send') return action.stage;
  return action.direction === 'forward' ? action.stage - 1 : action.stage + 1;
}

/** Dense id of a transfer: (direction, producing stage, microbatch). */
export function transferKey(direction: TransferDirection, producer: number, microbatch: number, shape: { readonly stages: number; readonly microbatches: number }): number {
  return ((direction === 'backward' ? shape.stages : 0) + producer) * shape.microbatches + microbatch;
}

/** The transfer a compute action consumes from another rank, if any. */
export function consumedTransfer(action: ComputeAction, schedule: ComputeSchedule): { direction: TransferDirection; producer: number } | undefined {
  const rank = schedule.stageDevice[action.stage];
  if (action.operation === 'F' && action.stage > 0 && schedule.stageDevice[action.stage - 1] !== rank) return { direction: 'forward', producer: action.stage - 1 };
  if ((action.operation === 'B' || action.operation === 'I') && action.stage < schedule.stages - 1 && schedule.stageDevice[action.stage + 1] !== rank) {
    return { direction: 'backward', producer: action.stage + 1 };
  }
  return undefined;
}

/** The transfer a compute action produces for another rank, if any, with its receiving stage. */
export function producedTransfer(action: ComputeAction, schedule: ComputeSchedule): { direction: TransferDirection; receiver: number } | undefined {
  const rank = schedule.stageDevice[action.stage];
  if (action.operation === 'F' && action.stage < schedule.stages - 1 && schedule.stageDevice[action.stage + 1] !== rank) return { direction: 'forward', receiver: action.stage + 1 };
  if ((action.operation === 'B' || action.operation === 'I') && action.stage > 0 && schedule.stageDevice[action.stage - 1] !== rank) {
    return { direction: 'backward', receiver: action.stage - 1 };
  }
  return undefined;
}

/** A rank's order cut into cells: a lone action, or an overlap group (DualPipe's F&B) that runs as one. */
export function computeUnits(order: readonly ComputeAction[]): ComputeAction[][] {
  const units: ComputeAction[][] = [];
  let k = 0;
  while (k < order.length) {
    const group = order[k].overlapGroup;
    let end = k + 1;
    if (group !== undefined) while (end < order.length && order[end].overlapGroup === group) end++;
    units.push(order.slice(k, end));
    k = end;
  }
  return units;
}


/** A unit's cell in PyTorch's notation: `0F3`, or an overlap group as `(0F7;7B3)OVERLAP_F_B`. */
export function unitCell(unit: readonly ComputeAction[]): string {
  return unit.length > 1 ? `(${unit.map(actionLabel).join(';')})OVERLAP_F_B` : actionLabel(unit[0]);
}

/** A cell of a comms-annotated row as PyTorch writes it: `0F3`, `0SEND_F3`, `1RECV_B2`, `0REDUCE_GRAD`. */
export function commsCell(action: CommsAction): string {
  switch (action.kind) {
    case 'compute': return unitCell(action.actions);
    case 'send':
    case 'recv': return `${action.stage}${action.kind === 'send' ? 'SEND' : 'RECV'}_${action.direction === 'forward' ? 'F' : 'B'}${action.microbatch}`;
    case 'reduce_grad': return `${action.stage}REDUCE_GRAD`;
  }
}
