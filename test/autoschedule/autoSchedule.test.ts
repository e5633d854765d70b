import { describe, expect, it } from 'vitest';
import { autoSchedule, autoScheduleWithReport } from '../../compiler/autoschedule/autoSchedule.ts';
import { unitCostModel } from '../../compiler/cost/types.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { peakActivations } from '../../compiler/schedule/memory.ts';
import { regularStageDevices as placeStages } from '../../compiler/placement.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { gridCases, problemOf, referenceMakespan, uniformCosts } from './reference/grid.ts';

describe('autoSchedule against zero-bubble\'s heuristic (the reference)', () => {
  const cases = gridCases();
  const results = cases.map((gridCase) => {
    const problem = problemOf(gridCase);
    const report = autoScheduleWithReport(problem);
    return { gridCase, problem, report, reference: referenceMakespan(problem) };
  });

  it.each(results.map((result) => [JSON.stringify(result.gridCase), result] as const))(
    'is valid, within the limit and no worse on %s',
    (_, { problem, report, reference }) => {
      expect(validateSchedule(report.schedule)).toEqual([]);
      const peaks = peakActivations(report.schedule, problem.costs.stages.map((s) => s.activation));
      peaks.forEach((peak, d) => expect(peak).toBeLessThanOrEqual(problem.memoryLimit[d]));
      // The schedules engineer's timing agrees with ours on the makespan.
      expect(timeSchedule(report.schedule, { costs: problem.costs }).makespan).toBeCloseTo(report.makespan, 9);
      if (reference !== undefined) expect(report.makespan).toBeLessThanOrEqual(reference + 1e-9);
      expect(report.makespan).toBeGreaterThanOrEqual(report.lowerBound - 1e-9);
    },
  );

  it('is strictly better on some of the grid', () => {
    const better = results.filter((r) => r.reference === undefined || r.report.makespan < r.reference - 1e-9);
    expect(better.length).toBeGreaterThan(0);
  });
});

describe('autoSchedule', () => {
  it('reaches the pipeline-fill bound under unit costs with room for 2p activations', () => {
    // Device p-1 cannot start before (p-1)·F, then has m·(F+I+W) of work.
    const schedule = autoSchedule({
      shape: { devices: 4, stages: 4, microbatches: 8, stageDevice: [0, 1, 2, 3] },
      costs: unitCostModel(4),
      memoryLimit: [8, 8, 8, 8],
    });
    expect(timeSchedule(schedule).makespan).toBe(3 + 24);
  });

  it('schedules V placements (two stages per device) within the limit', () => {
    const stageDevice = placeStages('v', 4, 2);
    const costs = uniformCosts(8, 1, 1, 1, 0.25);
    const report = autoScheduleWithReport({
      shape: { devices: 4, stages: 8, microbatches: 8, stageDevice },
      costs,
      memoryLimit: [8, 8, 8, 8],
    });
    expect(validateSchedule(report.schedule)).toEqual([]);
    peakActivations(report.schedule, costs.stages.map((s) => s.activation)).forEach((peak) => expect(peak).toBeLessThanOrEqual(8));
    expect(report.schedule.orders[0].filter((a) => a.stage === 7)).toHaveLength(24);
  });

  it('is never worse than a built-in schedule that fits the same limit', () => {
    for (const [name, perDevice] of [['zb_h1', 1], ['1f1b', 1], ['zb_v', 2], ['interleaved_1f1b', 2]] as const) {
      const built = builtinSchedule(name, { devices: 4, microbatches: 8, stagesPerDevice: perDevice }).schedule!;
      const costs = uniformCosts(built.stages, 1, 1.1, 0.8, 0.3);
      const limit = Math.max(...peakActivations(built, costs.stages.map((s) => s.activation)));
      const auto = autoScheduleWithReport({ shape: built, costs, memoryLimit: [limit, limit, limit, limit] });
      expect(auto.makespan).toBeLessThanOrEqual(timeSchedule(built, { costs }).makespan + 1e-9);
    }
  });

  it('throws with a reason when no order can fit', () => {
    expect(() =>
      autoSchedule({
        shape: { devices: 2, stages: 4, microbatches: 4, stageDevice: placeStages('v', 2, 2) },
        costs: unitCostModel(4),
        memoryLimit: [1, 1],
      }),
    ).toThrow(/no order fits 1 \/ 1 activation units per rank \(a rank needs room for one microbatch on each of its stages at once: 2 \/ 2\)/);
  });

  // Its speed (under 2 s for p=8, m=24) is a benchmark: bench/autoschedule.ts.
});
