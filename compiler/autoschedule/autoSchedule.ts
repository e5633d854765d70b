// `schedule auto(memory: X)`: the shortest order we can find for the given
// pipeline shape, costs (communication included) and per-rank activation
// limit. A portfolio, keep the best:
//  1. zero-bubble's greedy construction (the anchor; one stage per device),
//     over all its switches, see zeroBubbleGreedy.ts;
//  2. a parameterised list scheduler over every F/I/W priority order,
//     several patience values, activation caps from the limit down, and
//     both stage preferences (works for any placement, loop and V included);
//  3. the standard library's schedules that fit the shape (B split into I, W);
//  4. local search from the best few of those;
//  5. a short run of exact.ts's branch and bound from the winner (the
//     polish), or in exact mode a full one, which proves the winner optimal
//     or finds the optimum.
// Every candidate goes through one evaluator that rejects dependency
// violations, circular waits and activation peaks above the limit, so what
// comes out validates like any other schedule.

import type { CostModel } from '../cost/types.ts';
import { standardSchedules } from '../schedule/builtin.ts';
import { classifyPlacement, satisfiesPlacement } from '../placement.ts';
import { requiredPlacement } from '../schedule/contract.ts';
import { evaluateSchedule } from '../schedule/evaluate.ts';
import type { ComputeSchedule, PipelineShape } from '../schedule/types.ts';
import { PRIORITY_RANKS, runListStrategy } from './listStrategy.ts';
import { improveByLocalSearch, type ScoredOrders } from './localSearch.ts';
import { buildTables, fromComputeSchedule, makeEvaluator, toComputeSchedule, type CodeOrders, type ProblemTables } from './orders.ts';
import { zeroBubbleGreedyOrders, ZERO_BUBBLE_SWITCHES } from './zeroBubbleGreedy.ts';
import { solveExactly, type ExactOptions } from './exact.ts';

export interface AutoScheduleRequest {
  readonly shape: PipelineShape;
  readonly costs: CostModel;
  /** Per rank, same units as costs.stages[].activation. */
  readonly memoryLimit: readonly number[];
}

export interface AutoScheduleReport {
  readonly schedule: ComputeSchedule;
  readonly makespan: number;
  /** max over ranks of m·(F+I+W) summed over the rank's stages. */
  readonly lowerBound: number;
  /** max over ranks of (first forward's arrival + the rank's work): no order beats it. */
  readonly fillBound: number;
  /** Which construction the winner started from. */
  readonly origin: string;
  readonly candidatesTried: number;
  /** With options.exact: what the exact search (exact.ts) proved. */
  readonly exact?: ExactVerdict;
}

export interface ExactVerdict {
  /** True when no order is shorter than the returned one. */
  readonly proven: boolean;
  /** No order is shorter than this (the makespan when proven). */
  readonly lowerBound: number;
  /** The heuristic portfolio's makespan before the exact search (the search's incumbent). */
  readonly heuristicMakespan: number;
  readonly nodes: number;
  readonly ms: number;
  /** The problem has more compute actions than the search takes on (exact.ts's EXACT_MAX_ACTIONS): nothing was searched. */
  readonly tooLarge: boolean;
}

export function autoSchedule(request: AutoScheduleRequest): ComputeSchedule {
  return autoScheduleWithReport(request).schedule;
}

/** As autoSchedule, with the makespan, bound and provenance (for `pipec schedule auto` and the bench). */
export function autoScheduleWithReport(
  request: AutoScheduleRequest,
  options: { readonly searchEvaluations?: number; readonly exact?: boolean | Omit<ExactOptions, 'incumbent'> } = {},
): AutoScheduleReport {
  const problemText = describeProblem(request);
  if (problemText !== undefined) throw new Error(problemText);
  const tables = buildTables(request);
  const evaluator = makeEvaluator(tables);
  const candidates: (ScoredOrders & { origin: string; peak: number })[] = [];
  let tried = 0;
  const consider = (orders: CodeOrders | undefined, origin: string) => {
    tried++;
    if (orders === undefined) return;
    const makespan = evaluator.makespan(orders);
    if (makespan === Number.POSITIVE_INFINITY) return;
    candidates.push({ orders, makespan, origin, peak: evaluator.peakActivations() });
  };

  // The standard library's schedules that fit the shape, fused backward
  // split into I then W: auto is never worse than a built-in within the limit.
  const placement = classifyPlacement(request.shape.stageDevice, request.shape.devices);
  for (const [name, declaration] of standardSchedules()) {
    const required = requiredPlacement(declaration);
    if (required !== undefined && !satisfiesPlacement(placement, required)) continue;
    const evaluated = evaluateSchedule(declaration, request.shape, {}, { costs: request.costs });
    if (evaluated.schedule === undefined) continue;
    consider(fromComputeSchedule(tables, splitFusedBackward(evaluated.schedule)), `built-in ${name}`);
  }
  if (tables.devices === tables.stages) {
    for (const switches of ZERO_BUBBLE_SWITCHES) {
      consider(zeroBubbleGreedyOrders(tables, switches), `zero-bubble greedy ${JSON.stringify(switches)}`);
    }
  }
  for (const cap of activationCaps(tables)) {
    for (const rank of PRIORITY_RANKS) {
      for (const patience of [0, 0.5, 1, 2, 1e9]) {
        for (const preferLaterStage of tables.devices === tables.stages ? [true] : [true, false]) {
          consider(
            runListStrategy(tables, { rank, patience, cap, preferLaterStage }),
            `list ${rank.join('')} patience ${patience} cap ${cap.join('/')}${preferLaterStage ? '' : ' earlier-first'}`,
          );
        }
      }
    }
  }
  if (candidates.length === 0) {
    // Unit costs count activations in stage-microbatch units; derived and measured costs in bytes.
    const unit = request.costs.kind === 'unit' ? 'activation units' : 'bytes of activations';
    throw new Error(
      `no order fits ${request.memoryLimit.map((limit) => round(limit)).join(' / ')} ${unit} per rank ` +
        `(a rank needs room for one microbatch on each of its stages at once: ${tablesLeast(tables)})`,
    );
  }

  // Equal makespans: the order that keeps fewer activations live wins.
  candidates.sort((a, b) => a.makespan - b.makespan || a.peak - b.peak);
  const seeds = distinctBest(candidates, 3);
  const evaluations = options.searchEvaluations ?? searchBudget(tables);
  let best: ScoredOrders & { origin: string } = seeds[0];
  // Most of the budget goes to the best start; the others get a share in case it is a dead end.
  const shares = seeds.length === 1 ? [1] : seeds.length === 2 ? [0.7, 0.3] : [0.6, 0.2, 0.2];
  seeds.forEach((seed, index) => {
    const improved = improveByLocalSearch(tables, evaluator, seed, { evaluations: Math.floor(evaluations * shares[index]), seed: 17 + index });
    tried++;
    if (improved.makespan < best.makespan) best = { ...improved, origin: `${seed.origin} + local search` };
  });
  // Exact polish: a short run of exact.ts's search from the winner finds
  // the optimum the portfolio misses on some small problems (p=4, m=24,
  // C=0.5, limit 6: 77 against the proven 76.5). Exact mode runs it in full.
  if (!options.exact) {
    const polished = solveExactly(tables, { incumbent: best.orders, nodeBudget: POLISH_NODES, raiseBound: false });
    tried++;
    if (polished.orders !== undefined && polished.makespan < best.makespan - 1e-9) best = { orders: polished.orders, makespan: polished.makespan, origin: `${best.origin} + exact polish` };
  }
  // The evaluator's verdict on the winner is the number we report.
  const makespan = evaluator.makespan(best.orders);
  const heuristic = {
    schedule: toComputeSchedule(tables, 'auto', best.orders),
    makespan,
    lowerBound: tables.lowerBound,
    fillBound: tables.fillBound,
    origin: best.origin,
    candidatesTried: tried,
  };
  return options.exact ? withExactSearch(tables, heuristic, best.orders, options.exact === true ? {} : options.exact) : heuristic;
}

/** Nodes of the polish: about 0.1 s at p=4, a few tenths at p=8, m=24. */
const POLISH_NODES = 5000;

// ── exact mode (`auto(..., exact: true)`, `--exact`): the heuristic's winner is the incumbent ──
function withExactSearch(tables: ProblemTables, heuristic: AutoScheduleReport, incumbent: CodeOrders, options: Omit<ExactOptions, 'incumbent'>): AutoScheduleReport {
  const result = solveExactly(tables, { ...options, incumbent });
  const improved = result.orders !== undefined && result.makespan < heuristic.makespan - 1e-9;
  const exact: ExactVerdict = { proven: result.proven, lowerBound: result.lowerBound, heuristicMakespan: heuristic.makespan, nodes: result.nodes, ms: result.ms, tooLarge: result.tooLarge };
  if (!improved) return { ...heuristic, exact };
  return { ...heuristic, schedule: toComputeSchedule(tables, 'auto', result.orders!), makespan: result.makespan, origin: 'exact search', exact };
}

/**
 * B becomes I immediately followed by W: the same work and the same
 * activation lifetime, costed as I + W like every split order auto returns
 * (which equals B whenever the cost model's B is I + W).
 */
function splitFusedBackward(schedule: ComputeSchedule): ComputeSchedule {
  return {
    ...schedule,
    splitBackward: true,
    orders: schedule.orders.map((order) =>
      order.flatMap((action) =>
        action.operation === 'B'
          ? [{ operation: 'I' as const, stage: action.stage, microbatch: action.microbatch }, { operation: 'W' as const, stage: action.stage, microbatch: action.microbatch }]
          : [{ operation: action.operation, stage: action.stage, microbatch: action.microbatch }]),
    ),
  };
}

function describeProblem(request: AutoScheduleRequest): string | undefined {
  const { shape, costs, memoryLimit } = request;
  if (shape.stageDevice.length !== shape.stages) return `the shape places ${shape.stageDevice.length} stages, expected ${shape.stages}`;
  if (costs.stages.length !== shape.stages) return `the cost model has ${costs.stages.length} stages, the pipeline ${shape.stages}`;
  if (memoryLimit.length !== shape.devices) return `a memory limit is given for ${memoryLimit.length} ranks, the pipeline has ${shape.devices}`;
  if (shape.microbatches < 1) return 'the pipeline needs at least one microbatch';
  return undefined;
}

/**
 * Caps from the limit down to the least that can work (one activation per
 * stage on the device), in whole-activation steps: a smaller cap means fewer
 * warm-up forwards, which sometimes shortens the critical path.
 */
function activationCaps(tables: ProblemTables): number[][] {
  const steps = 4;
  const caps: number[][] = [];
  const fullest = tables.stagesOf.map((stages) => stages.reduce((a, s) => Math.max(a, tables.activation[s]), 0));
  const least = tables.stagesOf.map((stages) => stages.reduce((a, s) => a + tables.activation[s], 0));
  for (let step = 0; step < steps; step++) {
    const cap = tables.stagesOf.map((_, d) => Math.max(least[d], tables.limit[d] - step * fullest[d]));
    if (caps.some((existing) => existing.every((value, d) => value === cap[d]))) continue;
    caps.push(cap);
  }
  return caps;
}

function tablesLeast(tables: ProblemTables): string {
  return tables.stagesOf.map((stages) => round(stages.reduce((a, s) => a + tables.activation[s], 0))).join(' / ');
}

function distinctBest<T extends ScoredOrders>(sorted: readonly T[], count: number): T[] {
  const chosen: T[] = [];
  const seen = new Set<string>();
  for (const candidate of sorted) {
    const key = candidate.orders.map((order) => order.join(',')).join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    chosen.push(candidate);
    if (chosen.length === count) break;
  }
  return chosen;
}

/**
 * Moves to try. An evaluation costs time linear in the actions, so the
 * budget shrinks with size: p=8, m=24 (576 actions) gets about 40,000
 * (≈0.3 s on one busy core), well under its 2 s allowance.
 */
function searchBudget(tables: ProblemTables): number {
  const actions = tables.stages * tables.microbatches * 3;
  return Math.max(4000, Math.min(60000, Math.floor(24_000_000 / actions)));
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
