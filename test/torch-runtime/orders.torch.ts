// pipec's built-ins against PyTorch's own orders of the same family, on every
// setting PyTorch accepts for p ∈ 2…16 and m ∈ p…4p (and the loop-placed
// families at v = 3 and 4 for p ≤ 6): under unit costs pipec's makespan is no
// larger and no rank holds more activations. PyTorch builds its orders in
// the venv (bench/torch/torch_orders.py); no process group is needed.
import { describe, expect, inject, it, test } from 'vitest';
import {
  TORCH_FAMILIES, compareOrder, pipecBehind, summarise, torchOrders, type OrderComparison,
} from '../../bench/torch/ordersVsPytorch.ts';
import { builtinSchedule, importTorchCsv } from '../../compiler/index.ts';

const python = inject('torchPython');
const skipReason = inject('torchSkipReason');

function describeBehind(c: OrderComparison): string {
  return `${c.torchClass} p=${c.p} m=${c.m} v=${c.v}: PyTorch ${c.torchMakespan} [${c.torchPeaks}], pipec ${c.pipecMakespan ?? c.pipecProblem} [${c.pipecPeaks ?? ''}]`;
}

describe.runIf(python)("pipec's built-ins against PyTorch's orders", () => {
  const classes = Object.keys(TORCH_FAMILIES);
  let comparisons: OrderComparison[] = [];

  it('PyTorch builds the grid', () => {
    comparisons = torchOrders(python, classes, [2, 16]).map(compareOrder);
    const loopPlaced = ['ScheduleInterleaved1F1B', 'ScheduleLoopedBFS', 'ScheduleInterleavedZeroBubble'];
    for (const v of [3, 4]) comparisons.push(...torchOrders(python, loopPlaced, [2, 6], v).map(compareOrder));
    // 7 classes × 420 settings at v ≤ 2; 3 classes × 65 settings (p ≤ 6) at v = 3 and at v = 4
    expect(comparisons).toHaveLength(7 * 420 + 2 * 3 * 65);
  }, 600_000);

  it('pipec is no slower and holds no more on every setting PyTorch accepts', () => {
    const behind = comparisons.filter(pipecBehind).map(describeBehind);
    expect(behind).toEqual([]);
    const rows = summarise(comparisons);
    for (const row of rows) {
      // Every class is compared on most of its settings: a refusal or an
      // invalid PyTorch order is the exception, except PyTorch's 1F1B (below).
      if (row.torchClass === 'Schedule1F1B') continue;
      expect(row.faster + row.equal, row.torchClass).toBeGreaterThan(row.settings / 2);
    }
  });

  it('zb_v, interleaved_1f1b and interleaved_zb give PyTorch\'s very order', () => {
    for (const c of comparisons) {
      if (!['zb_v', 'interleaved_zb', 'dualpipe_v'].includes(c.family) || c.torchMakespan === undefined) continue;
      expect(c.pipecMakespan, `${c.torchClass} p=${c.p} m=${c.m}`).toBe(c.torchMakespan);
      expect(c.pipecPeaks).toEqual(c.torchPeaks);
    }
  });

  it("PyTorch's Schedule1F1B pipeline_order is invalid on every setting: its last rank is one microbatch ahead", () => {
    const oneF1B = comparisons.filter((c) => c.torchClass === 'Schedule1F1B');
    expect(oneF1B.length).toBe(420);
    for (const c of oneF1B) expect(c.torchInvalid, `p=${c.p} m=${c.m}`).toMatch(/names microbatch|never run/);
  });

  it('the orders themselves agree action for action where pipec follows PyTorch\'s rule', () => {
    const settings = torchOrders(python, ['ScheduleZBVZeroBubble', 'ScheduleInterleavedZeroBubble', 'ScheduleInterleaved1F1B'], [3, 5]);
    for (const order of settings) {
      if (order.rows === undefined) continue;
      const { family } = TORCH_FAMILIES[order.schedule];
      const torch = importTorchCsv(order.rows.map((row) => row.join(',')).join('\n'), 'torch.csv', { microbatches: order.m }).schedule!;
      const ours = builtinSchedule(family, { devices: order.p, microbatches: order.m, stagesPerDevice: order.v }).schedule!;
      const cells = (s: typeof ours) => s.orders.map((o) => o.map((a) => `${a.stage}${a.operation}${a.microbatch}`));
      expect(cells(ours), `${order.schedule} p=${order.p} m=${order.m}`).toEqual(cells(torch));
    }
  }, 120_000);
});

if (!python) {
  describe("pipec's built-ins against PyTorch's orders", () => {
    test.skip(`skipped: ${skipReason}`, () => {});
  });
}
