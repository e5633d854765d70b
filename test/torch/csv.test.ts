import { describe, expect, it } from 'vitest';
import { LineMap } from '../../grammar/source.ts';
import { builtinSchedule, standardSchedules } from '../../compiler/schedule/builtin.ts';
import { checkScheduleContract, contractShapeOf } from '../../compiler/schedule/contract.ts';
import { validateSchedule, problemsToDiagnostics } from '../../compiler/schedule/validate.ts';
import { exportTorchCsv, importTorchCsv } from '../../compiler/torch/csv.ts';
import { spanOf } from '../../grammar/source.ts';

function located(text: string, file: string, diagnostics: readonly { code: string; message: string; span: { start: number; end: number } }[]) {
  const lines = new LineMap(text);
  return diagnostics.map((d) => {
    const at = lines.locate(d.span.start);
    return `${file}:${at.line}:${at.column} ${d.code} ${d.message}`;
  });
}

describe('exportTorchCsv', () => {
  it('writes one row per rank with global stage indices', () => {
    const schedule = builtinSchedule('1f1b', { devices: 2, microbatches: 3, stagesPerDevice: 1 }).schedule!;
    expect(exportTorchCsv(schedule, { comms: false })).toBe('0F0,0F1,0B0,0F2,0B1,0B2\n1F0,1B0,1F1,1B1,1F2,1B2\n');
  });

  it('writes I and W cells and overlapped pairs as PyTorch does', () => {
    const dual = builtinSchedule('dualpipe_v', { devices: 2, microbatches: 4, stagesPerDevice: 2 }).schedule!;
    const csv = exportTorchCsv(dual, { comms: false });
    expect(csv).toMatch(/\(\d+F\d+;\d+B\d+\)OVERLAP_F_B/);
    expect(csv).toMatch(/\d+I\d+/);
    expect(csv).toMatch(/\d+W\d+/);
    const back = importTorchCsv(csv, 'dual.csv');
    expect(back.diagnostics).toEqual([]);
    // The rows' stage → rank map is classified by the same code as a pipeline's.
    expect(back.placement).toMatchObject({ kind: 'v', devices: 2, stagesPerDevice: 2 });
    const declaration = standardSchedules().get('dualpipe_v')!;
    expect(checkScheduleContract(declaration, contractShapeOf(back.schedule!)).violations).toEqual([]);
    const fewer = checkScheduleContract(declaration, { ...contractShapeOf(back.schedule!), microbatches: 3 }).violations;
    expect(fewer.map((violation) => violation.reason)).toEqual(['needs at least 2p microbatches']);
    expect(back.schedule!.orders.map((o) => o.map((a) => [a.stage, a.operation, a.microbatch, a.overlapGroup !== undefined])))
      .toEqual(dual.orders.map((o) => o.map((a) => [a.stage, a.operation, a.microbatch, a.overlapGroup !== undefined])));
  });

  it('with comms, adds SEND after the producing action, RECV on the receiver before its use, and REDUCE_GRAD after each stage\'s last backward', () => {
    const schedule = builtinSchedule('gpipe', { devices: 2, microbatches: 2, stagesPerDevice: 1 }).schedule!;
    expect(exportTorchCsv(schedule, { comms: true })).toBe(
      '0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1,0REDUCE_GRAD\n' +
        '1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1,1SEND_B1,1REDUCE_GRAD\n',
    );
  });

  it('with comms, stages on the same rank hand over without cells (V placement)', () => {
    const schedule = builtinSchedule('zb_v', { devices: 2, microbatches: 4, stagesPerDevice: 2 }).schedule!;
    const rows = exportTorchCsv(schedule, { comms: true }).trim().split('\n');
    // stage 1 and 2 share rank 1: no SEND_F from stage 1
    expect(rows[1]).not.toMatch(/1SEND_F/);
    expect(rows[1]).not.toMatch(/2RECV_F/);
    // every RECV precedes the compute that consumes it
    for (const row of rows) {
      const cells = row.split(',');
      cells.forEach((cell, index) => {
        const recv = /^(\d+)RECV_([FB])(\d+)$/.exec(cell);
        if (!recv) return;
        const use = cells.findIndex((c) => new RegExp(`^${recv[1]}${recv[2] === 'F' ? 'F' : '[BI]'}${recv[3]}$`).test(c));
        expect(use).toBeGreaterThan(index);
      });
    }
    // and the comms file imports back to the same compute order (comms cells ignored, with a warning)
    const back = importTorchCsv(rows.join('\n'), 'zbv_comms.csv');
    expect(back.diagnostics.every((d) => d.code === 'PIPE4041' && d.severity === 'warning')).toBe(true);
    expect(validateSchedule(back.schedule!)).toEqual([]);
  });
});

describe('importTorchCsv', () => {
  it('treats empty cells as idle and ignores REDUCE_GRAD', () => {
    const text = '0F0,,0B0,0REDUCE_GRAD\n,1F0,1B0,1REDUCE_GRAD\n';
    const result = importTorchCsv(text, 'x.csv');
    expect(result.diagnostics).toEqual([]);
    expect(result.schedule).toMatchObject({ devices: 2, stages: 2, microbatches: 1, stageDevice: [0, 1], splitBackward: false });
    expect(validateSchedule(result.schedule!)).toEqual([]);
  });

  it('reports malformed cells at file:row:col', () => {
    const text = '0F0,0B0\n1F0,1X0,1B0\n';
    const result = importTorchCsv(text, 'bad.csv');
    expect(located(text, 'bad.csv', result.diagnostics)).toEqual([
      "bad.csv:2:5 PIPE4040 cell '1X0' is not a PyTorch schedule action (expected e.g. 0F3, 1I2, 1W2, 1B2, (0F7;7B3)OVERLAP_F_B or empty)",
    ]);
  });

  it('reports a stage spread over two ranks, and validation problems at their cells', () => {
    const twoRanks = importTorchCsv('0F0,0B0\n0F1,1F0,1B0\n', 'two.csv');
    expect(twoRanks.diagnostics.map((d) => d.code)).toContain('PIPE4043');

    const text = '0F0,0B0,0F1,0B1\n1F0,1B0,1B1\n';
    const result = importTorchCsv(text, 'order.csv');
    const diagnostics = problemsToDiagnostics(validateSchedule(result.schedule!), spanOf('order.csv', 0, 0), { missingNearStage: true });
    // reported on the row of the rank that runs stage 1
    expect(located(text, 'order.csv', diagnostics)).toEqual(['order.csv:2:1 PIPE4020 stage 1 microbatch 1 is never run forward (F)']);

    const early = '0F0,0B0\n1B0,1F0\n';
    const earlyDiagnostics = problemsToDiagnostics(validateSchedule(importTorchCsv(early, 'early.csv').schedule!), spanOf('early.csv', 0, 0));
    expect(located(early, 'early.csv', earlyDiagnostics)).toEqual(['early.csv:2:1 PIPE4023 1B0 on device 1 step 0 runs before 1F0 of the same stage and microbatch']);
  });

  it('accepts a CRLF file with quoted cells', () => {
    const result = importTorchCsv('"0F0","0B0"\r\n"1F0","1B0"\r\n', 'q.csv');
    expect(result.diagnostics).toEqual([]);
    expect(validateSchedule(result.schedule!)).toEqual([]);
  });

  it('an empty file is an error', () => {
    expect(importTorchCsv('\n', 'empty.csv').diagnostics.map((d) => d.code)).toEqual(['PIPE4042']);
  });
});
