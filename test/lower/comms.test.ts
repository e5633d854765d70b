// The comms lowering (compiler/lower/comms.ts), its proof under PyTorch's
// runtime semantics (compiler/schedule/commsExecution.ts) and its timing
// (compiler/simulate/comms.ts). PyTorch's own lowering of the same orders,
// made by bench/torch/torch_add_send_recv.py with PyTorch 2.13, is kept in
// test/fixtures/torch-comms/ so this needs no PyTorch.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { costModelFromSpec, parseCostSpec, type CostSpec } from '../../compiler/cost/costSpec.ts';
import { lowerCommunication, lowerCommunicationInTime, lowerCommunicationLikePyTorch, type CommsOrder } from '../../compiler/lower/comms.ts';
import { builtinSchedule, builtinScheduleNames, defaultStagesPerDevice } from '../../compiler/schedule/builtin.ts';
import { describeCommsDeadlock, proveCommsOrderDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { simulateCommsOrder } from '../../compiler/simulate/comms.ts';
import { formatCommsCsv, importTorchCsv } from '../../compiler/torch/csv.ts';
import { compileBareSchedule, compileTorchCsv, simulateCompilation } from '../../compiler/compilation.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/torch-comms');
const pytorchFiles = readdirSync(fixtures).filter((file) => file.endsWith('.pytorch_comms.csv')).sort();
const costsWithLink = (link: number, stageDevice: readonly number[]) => costModelFromSpec(parseCostSpec(`F=1,I=1,W=1,C=${link}`) as CostSpec, stageDevice);

/** PyTorch's rows without FSDP's UNSHARD / RESHARD cells, which do nothing without FSDP. */
function withoutFsdpCells(text: string): string {
  return text.trimEnd().split(/\r?\n/).map((row) => row.split(',').filter((cell) => !/^\d+(UNSHARD|RESHARD)$/.test(cell)).join(',')).join('\n') + '\n';
}

function pytorchLowering(file: string): CommsOrder {
  const imported = importTorchCsv(readFileSync(path.join(fixtures, file), 'utf8'), file);
  expect(imported.comms).toBeDefined();
  return imported.comms!;
}

/**
 * The built-ins PyTorch's runtime can run: a comms-annotated order is only
 * ever a PyTorch CSV, and schedules with two model copies are refused there
 * (PIPE6300, test/cli/exportMirrored.test.ts), as are the vocabulary-parallel
 * ones (PIPE6340: no pass of PyTorch's spans every rank).
 */
function singleCopyBuiltins(): string[] {
  return builtinScheduleNames().filter((name) => {
    const schedule = builtinSchedule(name, { devices: 4, microbatches: 8, stagesPerDevice: defaultStagesPerDevice(name) }).schedule;
    return (schedule?.copies ?? 1) === 1 && (schedule?.vocabShards ?? 0) === 0;
  });
}

describe("PyTorch's lowering, ported", () => {
  it.each(pytorchFiles)('%s: the port places every cell where PyTorch 2.13 does', (file) => {
    const computeOnly = importTorchCsv(readFileSync(path.join(fixtures, file.replace('.pytorch_comms.csv', '.csv')), 'utf8'), 'order.csv').schedule!;
    expect(formatCommsCsv(lowerCommunicationLikePyTorch(computeOnly))).toBe(withoutFsdpCells(readFileSync(path.join(fixtures, file), 'utf8')));
  });
});

describe('pipec lowering against PyTorch\'s, under link latency', () => {
  it.each(pytorchFiles)('%s: both deadlock-free under the runtime semantics; pipec\'s is never slower', (file) => {
    const pytorch = pytorchLowering(file);
    expect(proveCommsOrderDeadlockFree(pytorch).deadlockFree).toBe(true);
    for (const link of [0, 0.1, 0.5, 1]) {
      const costs = costsWithLink(link, pytorch.schedule.stageDevice);
      const ours = lowerCommunication(pytorch.schedule, costs);
      const proof = proveCommsOrderDeadlockFree(ours);
      expect(proof.problems).toEqual([]);
      expect(proof.deadlockFree).toBe(true);
      // What the simulator times is what the CSV says: the order read back from pipec's own file.
      const back = importTorchCsv(formatCommsCsv(ours), 'ours.csv').comms!;
      const ourTime = simulateCommsOrder(back, costs).makespan;
      expect(ourTime).toBe(simulateCommsOrder(ours, costs).makespan);
      expect(ourTime).toBeLessThanOrEqual(simulateCommsOrder(pytorch, costs).makespan);
    }
  });

  it('is faster where #188833 applies: Interleaved1F1B\'s warm-up receives, p=4 m=8 v=2', () => {
    const pytorch = pytorchLowering('interleaved_1f1b_p4_m8_v2.pytorch_comms.csv');
    const costs = costsWithLink(0.25, pytorch.schedule.stageDevice);
    const ours = lowerCommunication(pytorch.schedule, costs);
    expect(ours.placement).toBe('simulated time');
    const theirs = simulateCommsOrder(pytorch, costs);
    const mine = simulateCommsOrder(ours, costs);
    expect(mine.makespan).toBeLessThan(theirs.makespan);
    // The difference is head-of-line waiting on the streams.
    const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
    expect(sum(mine.headOfLineWait)).toBeLessThan(sum(theirs.headOfLineWait));
  });

  it('every built-in: pipec\'s lowering is deadlock-free and no slower than PyTorch\'s at p=2 and 4', () => {
    for (const name of singleCopyBuiltins()) {
      const v = defaultStagesPerDevice(name);
      for (const p of [2, 4]) {
        const schedule = builtinSchedule(name, { devices: p, microbatches: 2 * p, stagesPerDevice: v }).schedule!;
        for (const link of [0, 0.25]) {
          const costs = costsWithLink(link, schedule.stageDevice);
          const ours = lowerCommunication(schedule, costs);
          expect(proveCommsOrderDeadlockFree(ours).deadlockFree, `${name} p=${p}`).toBe(true);
          expect(simulateCommsOrder(ours, costs).makespan).toBeLessThanOrEqual(simulateCommsOrder(lowerCommunicationLikePyTorch(schedule), costs).makespan);
        }
      }
    }
  });

  it('the time-driven placement puts each RECV after the receiver\'s actions that end by the time the data is sent', () => {
    const schedule = builtinSchedule('gpipe', { devices: 2, microbatches: 2, stagesPerDevice: 1 }).schedule!;
    // F = 1, links 0.5: 1F0 runs [1.5, 2.5]; 0F1's data leaves at 2, while 1F0 runs, so 1RECV_F1 goes
    // before 1F0 (posted at 1.5, in time); 1B1's gradient leaves at 7.5, while 0B0 runs [6, 8], so 0RECV_B1 goes before 0B0.
    const order = lowerCommunicationInTime(schedule, costsWithLink(0.5, schedule.stageDevice));
    expect(formatCommsCsv(order).split('\n').slice(0, 2)).toEqual([
      '0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0RECV_B1,0B0,0B1,0REDUCE_GRAD',
      '1RECV_F0,1RECV_F1,1F0,1F1,1B0,1SEND_B0,1B1,1SEND_B1,1REDUCE_GRAD',
    ]);
  });
});

describe('the proof of a comms-annotated order', () => {
  const schedule = builtinSchedule('1f1b', { devices: 2, microbatches: 2, stagesPerDevice: 1 }).schedule!;
  const good = formatCommsCsv(lowerCommunicationLikePyTorch(schedule));

  it('accepts PyTorch\'s own lowering', () => {
    expect(proveCommsOrderDeadlockFree(importTorchCsv(good, 'good.csv').comms!).deadlockFree).toBe(true);
  });

  it('negative control: a receive posted ahead of a send the peer needs first deadlocks, and the stuck ranks are named', () => {
    // Rank 1 waits for 0's second activation before it sends the first gradient; rank 0 needs that gradient before it sends the activation.
    const text = '0F0,0SEND_F0,0RECV_B0,0B0,0F1,0SEND_F1,0RECV_B1,0B1\n1RECV_F0,1RECV_F1,1F0,1B0,1SEND_B0,1F1,1B1,1SEND_B1\n';
    const imported = importTorchCsv(text, 'stuck.csv');
    const proof = proveCommsOrderDeadlockFree(imported.comms!);
    expect(proof.deadlockFree).toBe(false);
    // Rank 1 computes 1F0 and 1B0, but its SEND_B0 is posted behind RECV_F1 on its stream (head-of-line).
    expect(proof.problems.map((problem) => [problem.kind, problem.rank, problem.index])).toEqual([['deadlock', 0, 3], ['deadlock', 1, 5]]);
    expect(describeCommsDeadlock(proof)).toBe(
      'rank 0 is stuck at 0B0 (cell 3) waiting for its receive; its stream waits at 0RECV_B0 for rank 1; ' +
        'rank 1 is stuck at 1F1 (cell 5) waiting for its receive; its stream waits at 1RECV_F1 for rank 0',
    );
  });

  it('rejects a compute whose receive is not on its row, and two ranks that pair their messages out of order', () => {
    const missing = proveCommsOrderDeadlockFree(importTorchCsv('0F0,0SEND_F0,0RECV_B0,0B0\n1F0,1RECV_F0,1B0,1SEND_B0\n', 'missing.csv').comms!);
    expect(missing.problems[0]).toMatchObject({ kind: 'missing-receive', rank: 1, index: 0 });
    const swapped = proveCommsOrderDeadlockFree(importTorchCsv(
      '0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1\n1RECV_F1,1RECV_F0,1F0,1B0,1SEND_B0,1F1,1B1,1SEND_B1\n', 'swapped.csv').comms!);
    expect(swapped.problems[0]).toMatchObject({ kind: 'mismatched-pair', rank: 0, index: 1 });
  });
});

describe('the simulator of a comms-annotated order', () => {
  it('charges a receive posted late (after the receiver\'s compute) with its link on the consumer', () => {
    const schedule = builtinSchedule('gpipe', { devices: 2, microbatches: 2, stagesPerDevice: 1 }).schedule!;
    const costs = costsWithLink(0.5, schedule.stageDevice);
    const asLowered = simulateCommsOrder(importTorchCsv('0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1\n1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1,1SEND_B1\n', 'a.csv').comms!, costs);
    // 0F0 [0,1], link [1,1.5]; 1F0 [1.5,2.5]; 1RECV_F1 is posted after 1F0, at 2.5, so 0F1's data
    // (sent at 2) crosses in [2.5,3] and 1F1 runs [3,4]; 1B0 [4,6] → 0B0 [6.5,8.5]; 0RECV_B1 posted at 8.5 → 0B1 [9,11].
    expect(asLowered.makespan).toBe(11);
    const early = simulateCommsOrder(importTorchCsv('0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1\n1RECV_F0,1RECV_F1,1F0,1F1,1B0,1SEND_B0,1B1,1SEND_B1\n', 'b.csv').comms!, costs);
    // 1RECV_F1 posted up front: the link runs [2,2.5] and 1F1 [2.5,3.5]; everything after moves up by 0.5.
    expect(early.makespan).toBe(10.5);
  });
});

describe('a compute_comms CSV that deadlocks', () => {
  it('is rejected with PIPE4450 at the first stuck cell, naming every stuck rank', () => {
    const text = '0F0,0SEND_F0,0RECV_B0,0B0,0F1,0SEND_F1,0RECV_B1,0B1\n1RECV_F0,1RECV_F1,1F0,1B0,1SEND_B0,1F1,1B1,1SEND_B1\n';
    const errors = compileTorchCsv(text, 'stuck.csv').diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.code, text.slice(d.span.start, d.span.end)])).toEqual([['PIPE4450', '0B0']]);
    expect(errors[0].message).toContain('rank 1 is stuck at 1F1');
    const missing = '0F0,0SEND_F0,0RECV_B0,0B0\n1F0,1RECV_F0,1B0,1SEND_B0\n';
    const rejected = compileTorchCsv(missing, 'missing.csv').diagnostics.filter((d) => d.severity === 'error');
    expect(rejected.map((d) => [d.code, missing.slice(d.span.start, d.span.end)])).toEqual([['PIPE4451', '1F0']]);
  });

  it('PyTorch\'s own lowering and pipec\'s pass the check', () => {
    for (const file of pytorchFiles) {
      const text = readFileSync(path.join(fixtures, file), 'utf8');
      expect(compileTorchCsv(text, file).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    }
  });
});

describe('the lowering\'s own timing', () => {
  it('with free links reaches the compute order\'s own makespan (the lower bound)', () => {
    for (const name of singleCopyBuiltins()) {
      const schedule = builtinSchedule(name, { devices: 4, microbatches: 8, stagesPerDevice: defaultStagesPerDevice(name) }).schedule!;
      const free = costsWithLink(0, schedule.stageDevice);
      const order = lowerCommunication(schedule, free);
      expect(order.placement).toBe('simulated time');
      const computeOnly = simulateCompilation(compileBareSchedule({ name, devices: 4, microbatches: 8 }, {}))!.result.makespan;
      const onRuntime = simulateCommsOrder(order, free).makespan;
      // An OVERLAP_F_B cell's SEND_F comes after the whole cell, so on PyTorch's
      // runtime DualPipeV's forward halves hand over later than in pipec's IR.
      if (name === 'dualpipe_v') expect(onRuntime).toBeGreaterThan(computeOnly);
      else expect(onRuntime, name).toBe(computeOnly);
    }
  });
});
