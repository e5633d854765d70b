// `schedule auto` for a bare pipeline (no .pipe file): P devices, M
// microbatches, V stages per device (placed by barePlacement: V-shaped for
// even V, loop otherwise), uniform costs from a `--cost F=1,I=1,W=1,C=0.5` spec, and a
// memory limit of K activation units per device (one unit = what one
// microbatch's forward keeps live on one stage). Used by `pipec schedule
// auto`, `pipec simulate --schedule auto` and `pipec show --schedule auto`.

import { costModelFromSpec, parseCostSpec, UNIT_COST_SPEC } from '../cost/costSpec.ts';
import { barePlacement } from '../placement.ts';
import type { ComputeSchedule } from '../schedule/types.ts';
import type { CostModel } from '../cost/types.ts';
import { autoScheduleWithReport, type AutoScheduleReport } from './autoSchedule.ts';
import { autoScheduleWithMemoryActions, summariseMemoryPlan, type MemoryPlanSummary } from './memoryActions.ts';

export interface BareAutoRequest {
  readonly devices: number;
  readonly microbatches: number;
  readonly stagesPerDevice?: number;
  /** Activation units per device; default 2 × stages per device × devices (room for ZB-H2-like warm-up). */
  readonly memory?: number;
  /** `F=1,I=1,W=1,C=0.5`; default unit costs. */
  readonly cost?: string;
  /** Let the search recompute microbatches (`--recompute`). */
  readonly recompute?: boolean;
  /** Let the search offload microbatches to host memory (`--offload`). */
  readonly offload?: boolean;
  /** What a recomputed microbatch keeps (its stage input), in activation units; default a quarter of a stash. */
  readonly checkpoint?: number;
  /** Time to offload or to reload one stage's stash on the copy stream; default one forward's time. */
  readonly copyTime?: number;
  /** Run the exact search after the heuristic (`--exact`): the report says whether the order is a proven optimum. */
  readonly exact?: boolean;
}

/** The schedule and its report, or a message for a usage error. */
export function bareAutoSchedule(request: BareAutoRequest): { readonly schedule: ComputeSchedule; readonly report?: AutoScheduleReport; readonly costs: CostModel; readonly memoryPlan?: MemoryPlanSummary } | { readonly error: string } {
  const perDevice = request.stagesPerDevice ?? 1;
  const spec = request.cost === undefined ? UNIT_COST_SPEC : parseCostSpec(request.cost);
  if (typeof spec === 'string') return { error: `--cost: ${spec}` };
  if (!(Number.isInteger(request.devices) && request.devices >= 1 && Number.isInteger(perDevice) && perDevice >= 1)) {
    return { error: `schedule auto: devices and stages per device must be positive whole numbers (got ${request.devices} and ${perDevice})` };
  }
  const { stageDevice } = barePlacement(request.devices, perDevice);
  const costs = costModelFromSpec(spec, stageDevice);
  const limit = (request.memory ?? 2 * request.devices * perDevice) * spec.activation;
  const shape = { devices: request.devices, stages: stageDevice.length, microbatches: request.microbatches, stageDevice };
  const memoryLimit = Array.from({ length: request.devices }, () => limit);
  try {
    if (request.exact && (request.recompute || request.offload)) return { error: 'schedule auto: --exact proves plain orders only; drop --recompute and --offload, or --exact' };
    if (request.recompute || request.offload) {
      const copyTime = request.copyTime ?? spec.forward;
      if (!(copyTime >= 0) || !(request.checkpoint === undefined || request.checkpoint >= 0)) return { error: 'schedule auto: --copy-time and --checkpoint must be 0 or more' };
      // The host link's bandwidth that makes one stash's copy take copyTime (free when 0).
      const withHost: CostModel = copyTime > 0 ? { ...costs, hostBandwidth: spec.activation / copyTime } : costs;
      const checkpoint = Math.min(spec.activation, request.checkpoint ?? spec.activation / 4);
      const report = autoScheduleWithMemoryActions(
        { shape, costs: withHost, memoryLimit, checkpoint: stageDevice.map(() => checkpoint), recompute: request.recompute === true, offload: request.offload === true },
        (plain) => autoScheduleWithReport(plain).schedule,
      );
      return {
        schedule: report.schedule,
        costs: withHost,
        memoryPlan: summariseMemoryPlan(report),
      };
    }
    const report = autoScheduleWithReport({ shape, costs, memoryLimit }, request.exact ? { exact: true } : {});
    return { schedule: report.schedule, report, costs };
  } catch (error) {
    return { error: `schedule auto: ${error instanceof Error ? error.message : String(error)}` };
  }
}

