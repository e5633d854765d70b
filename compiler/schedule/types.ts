// A schedule is the compute order per pipeline rank (device): which
// F / B / I / W of which (stage, microbatch) each device runs, in order,
// with the memory actions R / O / L placed among them.
// Communication is not part of it; lowering inserts send/recv.

import type { Span } from '../../grammar/source.ts';
import type { ComputeOperation, MemoryOperation } from '../../grammar/ast.ts';

export type { ComputeOperation, MemoryOperation };

export interface ComputeAction {
  readonly operation: ComputeOperation;
  /** Global stage index. */
  readonly stage: number;
  readonly microbatch: number;
  /**
   * Actions on one device with the same overlap group id, adjacent in the
   * order, run together (DualPipe's overlapped F&B). Undefined: alone.
   */
  readonly overlapGroup?: number;
  /** The schedule statement that produced it (absent for imported CSVs). */
  readonly span?: Span;
}

export interface PipelineShape {
  /** Pipeline ranks. */
  readonly devices: number;
  /** Total stages n (= devices × stages per device for regular placements). */
  readonly stages: number;
  readonly microbatches: number;
  /** stageDevice[s] = the rank that runs stage s. */
  readonly stageDevice: readonly number[];
  /**
   * Model copies sharing the ranks (2 for a mirrored placement, see
   * compiler/placement.ts); absent means 1. With c copies, `stages` counts
   * the stages of every copy (copy k's stage s is k·stages/c + s, each copy a
   * chain of its own) and `microbatches` is per copy: copy k's microbatch i
   * is data microbatch k·microbatches + i.
   */
  readonly copies?: number;
  /**
   * Stages at the head of each model copy that run forward only (a frozen
   * prefix, e.g. a frozen encoder): copy k's stages k·stages/c … k·stages/c
   * + forwardOnlyStages − 1 have F and nothing else, keep no stash and get
   * no gradient back. Absent: 0, every stage trains.
   */
  readonly forwardOnlyStages?: number;
}

export interface ComputeSchedule extends PipelineShape {
  /** e.g. '1f1b', 'zb_v', 'auto', 'csv:Schedule1F1B_p4_m8_v1.csv'. */
  readonly name: string;
  /** True when backward is split into I and W. */
  readonly splitBackward: boolean;
  /** orders[d] = device d's actions in execution order. */
  readonly orders: readonly (readonly ComputeAction[])[];
}
