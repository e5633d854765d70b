// Validation of a compute order (ComputeSchedule), independent of where it
// came from (a .pipe schedule, the list scheduler, an imported PyTorch CSV):
//  - every (stage, microbatch) has F, and either B or both I and W, once;
//    a forward-only stage (a frozen prefix) has F and nothing else;
//  - per stage (all on one device): F before I/B before W;
//  - each action runs on the device its stage is placed on;
//  - memory actions (R / O / L) of a pair come where their stash exists:
//    R and O after its F and before its B/I, L after its O and before its
//    B/I, each at most once, never R and O on one pair, never in an overlap;
//  - cross-stage dependencies can be met: executing the orders (timing.ts)
//    finishes; when it cannot, every stuck device is named with what it
//    waits for.
// Problems are data with device, step and action; `problemsToDiagnostics`
// turns them into diagnostics at the action's span (the schedule statement,
// or the CSV cell), or at a fallback span for generated orders.

import { makeDiagnostic, type Diagnostic, type MessageDefinition } from '../../grammar/diagnostic.ts';
import type { Span } from '../../grammar/source.ts';
import { actionLabel, isForwardOnly, isMemoryOperation, pairIndex } from './actions.ts';
import type { ComputeAction, ComputeSchedule } from './types.ts';
import { timeSchedule } from './unitTiming.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface ScheduleProblem {
  readonly message: MessageDefinition;
  readonly args: Readonly<Record<string, string | number>>;
  readonly device?: number;
  readonly step?: number;
  readonly action?: ComputeAction;
  /** For a missing action: an action of the same stage, to locate the problem (its row in a CSV). */
  readonly near?: ComputeAction;
}

const OPS = 'FBIWROL';

/** What a forward-only stage has none of, per action letter (PIPE4640). */
const FORWARD_ONLY_LACKS: Readonly<Record<string, string>> = {
  B: 'backward', I: 'input gradient to compute', W: 'weight gradient to compute',
  R: 'stash to recompute', O: 'stash to offload', L: 'stash to load back',
};

/** Problems stop being listed after this many of one kind; the rest would repeat the cause. */
const MAX_PER_KIND = 20;

export function validateSchedule(schedule: ComputeSchedule): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  const counts = new Map<string, number>();
  const report = (problem: ScheduleProblem) => {
    const seen = counts.get(problem.message.code) ?? 0;
    counts.set(problem.message.code, seen + 1);
    if (seen < MAX_PER_KIND) problems.push(problem);
  };
  const { stages, microbatches } = schedule;
  const pairs = stages * microbatches;
  // position[op][pair] = device order index + 1 (0 = absent); positions on the
  // placed device only, which is where the per-stage order is checked.
  const position = Array.from(OPS, () => new Int32Array(pairs));
  let structural = false;
  const forwardOnlyReported = new Set<number>();

  for (let d = 0; d < schedule.orders.length; d++) {
    const order = schedule.orders[d];
    for (let k = 0; k < order.length; k++) {
      const action = order[k];
      const where = { device: d, step: k, action };
      const label = actionLabel(action);
      if (!Number.isInteger(action.stage) || action.stage < 0 || action.stage >= stages) {
        report({ ...where, message: diagnosticMessages.stageOutOfRange, args: { action: label, device: d, step: k, stage: action.stage, stages } });
        structural = true;
        continue;
      }
      if (!Number.isInteger(action.microbatch) || action.microbatch < 0 || action.microbatch >= microbatches) {
        report({ ...where, message: diagnosticMessages.actionMicrobatchOutOfRange, args: { action: label, device: d, step: k, microbatch: action.microbatch, last: microbatches - 1 } });
        structural = true;
        continue;
      }
      if (schedule.stageDevice[action.stage] !== d) {
        report({ ...where, message: diagnosticMessages.wrongDevice, args: { action: label, device: d, step: k, stage: action.stage, placed: schedule.stageDevice[action.stage] } });
        structural = true;
        continue;
      }
      if (action.operation !== 'F' && isForwardOnly(schedule, action.stage)) {
        // One report per stage: every other backward of it repeats the cause.
        if (forwardOnlyReported.has(action.stage)) continue;
        forwardOnlyReported.add(action.stage);
        report({ ...where, message: diagnosticMessages.forwardOnlyAction, args: { action: label, device: d, step: k, stage: action.stage, what: FORWARD_ONLY_LACKS[action.operation] } });
        structural = true;
        continue;
      }
      const op = OPS.indexOf(action.operation);
      const pair = pairIndex(schedule, action.stage, action.microbatch);
      if (position[op][pair] !== 0 && isMemoryOperation(action.operation)) {
        const firstStep = position[op][pair] - 1;
        const why = action.operation === 'R' ? 'the stash is already full after the first recompute'
          : action.operation === 'O' ? 'the stash is already in host memory' : 'the stash is already back on the device';
        report({ ...where, message: diagnosticMessages.memoryActionTwice, args: { action: label, device: d, step: k, first: actionLabel(order[firstStep]), firstStep, why } });
        structural = true;
        continue;
      }
      if (isMemoryOperation(action.operation) && action.overlapGroup !== undefined) {
        report({ ...where, message: diagnosticMessages.memoryActionInOverlap, args: { action: label, device: d, step: k } });
        structural = true;
      }
      if (position[op][pair] !== 0) {
        report({ ...where, message: diagnosticMessages.duplicateAction, args: { action: label, device: d, step: k } });
        structural = true;
        continue;
      }
      position[op][pair] = k + 1;
      const mixed = action.operation === 'B' ? position[2][pair] || position[3][pair] : (action.operation === 'I' || action.operation === 'W') && position[1][pair];
      if (mixed) {
        report({ ...where, message: diagnosticMessages.mixedBackward, args: { action: label, device: d, step: k, stage: action.stage, microbatch: action.microbatch } });
        structural = true;
      }
    }
    // Overlap groups must be contiguous.
    const closed = new Set<number>();
    for (let k = 0; k < order.length; k++) {
      const group = order[k].overlapGroup;
      const previous = k > 0 ? order[k - 1].overlapGroup : undefined;
      if (previous !== undefined && previous !== group) closed.add(previous);
      if (group !== undefined && closed.has(group)) {
        report({ device: d, step: k, action: order[k], message: diagnosticMessages.overlapNotAdjacent, args: { group, device: d, step: k } });
      }
    }
  }

  const firstOfStage: (ComputeAction | undefined)[] = new Array(stages).fill(undefined);
  for (const order of schedule.orders) {
    for (const action of order) {
      if (action.stage >= 0 && action.stage < stages && firstOfStage[action.stage] === undefined) firstOfStage[action.stage] = action;
    }
  }
  for (let s = 0; s < stages; s++) {
    for (let i = 0; i < microbatches; i++) {
      const pair = pairIndex(schedule, s, i);
      const [f, b, ii, w] = [position[0][pair], position[1][pair], position[2][pair], position[3][pair]];
      const missing = (what: string) => {
        const near = firstOfStage[s];
        report({ message: diagnosticMessages.missingAction, args: { stage: s, microbatch: i, what }, ...(near ? { near } : {}) });
        structural = true;
      };
      if (!f) missing('run forward (F)');
      if (isForwardOnly(schedule, s)) continue;
      if (!b && !ii && !w) missing('run backward (B, or I and W)');
      else if (!b && !ii) missing('run backward for inputs (I) although its W runs');
      else if (!b && !w) missing('run backward for weights (W) although its I runs');
      const device = schedule.stageDevice[s];
      const order = schedule.orders[device];
      const before = (later: number, earlierLabel: string) => {
        const action = order[later - 1];
        report({ device, step: later - 1, action, message: diagnosticMessages.orderWithinStage, args: { action: actionLabel(action), device, step: later - 1, before: earlierLabel } });
        structural = true;
      };
      const backward = b || ii;
      if (f && backward && backward < f) before(backward, `${s}F${i}`);
      if (w && ii && w < ii) before(w, `${s}I${i}`);
      else if (w && f && !ii && w < f) before(w, `${s}F${i}`);
      if (checkMemoryActions(schedule, s, i, position, report)) structural = true;
    }
  }
  // Timing an order with missing or misplaced actions would only repeat them.
  if (structural) return problems;

  // Cross-stage dependencies: execute the orders; whatever cannot finish is
  // a circular wait between devices.
  const timing = timeSchedule(schedule);
  for (const stuck of timing.stuck) {
    const needed = `${stuck.waitsFor.stage}${stuck.waitsFor.operation === 'B or I' ? 'B/I' : stuck.waitsFor.operation}${stuck.waitsFor.microbatch}`;
    const blocker = timing.stuck.find((other) => other.device === stuck.waitsFor.device);
    const why = blocker
      ? `device ${blocker.device} is itself stuck at step ${blocker.step} (${actionLabel(blocker.action)}) before reaching it`
      : `it is never scheduled on device ${stuck.waitsFor.device}`;
    report({
      device: stuck.device,
      step: stuck.step,
      action: stuck.action,
      message: diagnosticMessages.dependencyOrder,
      args: { action: actionLabel(stuck.action), device: stuck.device, step: stuck.step, needed, neededDevice: stuck.waitsFor.device, why },
    });
  }
  return problems;
}

/**
 * The memory actions of one (stage, microbatch) against its F and B/I:
 * each must find the stash in the state it acts on. Returns whether a
 * problem was reported (lowering would then misplace the stash).
 */
function checkMemoryActions(
  schedule: ComputeSchedule,
  stage: number,
  microbatch: number,
  position: readonly Int32Array[],
  report: (problem: ScheduleProblem) => void,
): boolean {
  const pair = pairIndex(schedule, stage, microbatch);
  const [f, b, ii, , r, o, l] = position.map((positions) => positions[pair]);
  if (!r && !o && !l) return false;
  const device = schedule.stageDevice[stage];
  const order = schedule.orders[device];
  // How the user writes this pair in an order: `O[i]`, or `O[i, c]` on a device with several chunks.
  const deviceStages = schedule.stageDevice.flatMap((owner, s) => (owner === device ? [s] : []));
  const chunk = deviceStages.length > 1 ? `, ${deviceStages.indexOf(stage)}` : '';
  const forward = `${stage}F${microbatch}`;
  const backward = b || ii;
  const backwardLabel = backward ? actionLabel(order[backward - 1]) : `the backward of ${forward}`;
  let found = false;
  const at = (positionPlusOne: number, message: MessageDefinition, extra: Record<string, string | number>) => {
    const step = positionPlusOne - 1;
    const action = order[step];
    report({ device, step, action, message, args: { action: actionLabel(action), device, step, stage, microbatch, chunk, ...extra } });
    found = true;
  };
  const verbs = { R: 'recompute', O: 'offload', L: 'load back' } as const;
  for (const [k, operation] of [[r, 'R'], [o, 'O'], [l, 'L']] as const) {
    if (k && (!f || k < f)) at(k, diagnosticMessages.memoryActionBeforeForward, { forward, verb: verbs[operation] });
  }
  if (r && f && r > f && backward && r > backward) {
    at(r, diagnosticMessages.memoryActionAfterBackward, { backward: backwardLabel, verb: 'rebuilds', fix: `move it before ${backwardLabel}, ideally into idle time after ${forward}` });
  }
  if (o && f && o > f && backward && o > backward) {
    at(o, diagnosticMessages.memoryActionAfterBackward, { backward: backwardLabel, verb: 'offloads', fix: `offload between ${forward} and ${backwardLabel}, and load it back with L before ${backwardLabel}` });
  }
  if (l && (!o || l < o)) at(l, diagnosticMessages.reloadWithoutOffload, {});
  else if (l && backward && l > backward) {
    at(l, diagnosticMessages.memoryActionAfterBackward, { backward: backwardLabel, verb: 'loads back', fix: `move it before ${backwardLabel}` });
  }
  if (o && !l && f && o > f && (!backward || o < backward)) at(o, diagnosticMessages.offloadWithoutReload, { backward: backwardLabel });
  if (r && o) at(Math.max(r, o), diagnosticMessages.recomputeAndOffload, {});
  return found;
}

/**
 * Diagnostics at each problem's action span. A missing action has none: it
 * is reported at `fallback` (for a program, the pipeline's schedule), or,
 * with `missingNearStage` (for a CSV), at the first cell of its stage, so
 * file:row:col names the rank's row.
 */
export function problemsToDiagnostics(problems: readonly ScheduleProblem[], fallback: Span, options: { readonly missingNearStage?: boolean } = {}): Diagnostic[] {
  return problems.map((problem) =>
    makeDiagnostic(problem.message, problem.action?.span ?? (options.missingNearStage ? problem.near?.span : undefined) ?? fallback, problem.args));
}
