import { describe, expect, it } from 'vitest';
import { unitCostModel, type CostModel } from '../../compiler/cost/types.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { simulate, type SimulationResult } from '../../compiler/simulate/simulate.ts';
import { formatMemory, formatTime, tickStep } from '../../compiler/show/format.ts';
import { toPerfettoTrace } from '../../compiler/show/perfettoTrace.ts';
import { renderTimelineSvg } from '../../compiler/show/timelineSvg.ts';
import { renderTimelineText } from '../../compiler/show/timelineText.ts';

function simulated(name: string, devices: number, microbatches: number, stagesPerDevice: number, link = 0): SimulationResult {
  const schedule = builtinSchedule(name, { devices, microbatches, stagesPerDevice }).schedule!;
  const costs: CostModel = {
    ...unitCostModel(schedule.stages),
    sendActivation: Array.from({ length: schedule.stages }, () => link),
    sendGradient: Array.from({ length: schedule.stages }, () => link),
  };
  return simulate(lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages)), costs);
}

describe('renderTimelineSvg', () => {
  it('matches the golden comparison of 1f1b, zb_h1 and zb_v', async () => {
    const svg = renderTimelineSvg([
      { label: '1f1b', result: simulated('1f1b', 4, 8, 1, 0.25) },
      { label: 'zb_h1', result: simulated('zb_h1', 4, 8, 1, 0.25) },
      { label: 'zb_v', result: simulated('zb_v', 4, 8, 2, 0.25) },
    ]);
    await expect(svg).toMatchFileSnapshot('./golden/compare-p4-m8.svg');
  });

  it('draws one box per action with its microbatch, a row per device and the stats in the legend column', () => {
    const result = simulated('1f1b', 2, 2, 1);
    const svg = renderTimelineSvg([{ label: 'tiny', result }]);
    expect(svg.match(/<rect class="box"/g)).toHaveLength(8);
    expect(svg.match(/<text class="device"/g)).toHaveLength(2);
    expect(svg).toContain('tiny — makespan 9, bubble 33.3%');
    expect(svg).toContain('bubble 33.3% · peak 2 act');
    expect(svg).toContain('<title>F stage 1 microbatch 0: 1 – 2</title>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });

  it('puts several schedules on one time axis', () => {
    const short = simulated('zb_h1', 2, 2, 1);
    const long = simulated('gpipe', 2, 4, 1);
    const svg = renderTimelineSvg([{ label: 'a', result: short }, { label: 'b', result: long }], { plotWidth: 100 });
    // The longer schedule's idle band spans the full plot width; the shorter one's is proportionally narrower.
    const widths = [...svg.matchAll(/<rect class="idle" x="108" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0]).toBeCloseTo((short.makespan / long.makespan) * 100, 1);
    expect(widths[widths.length - 1]).toBe(100);
  });
});

describe('renderTimelineText', () => {
  it('prints a compact line per device', () => {
    expect(renderTimelineText(simulated('1f1b', 2, 2, 1))).toBe(
      [
        'rank 0 │F0F1····B0──··B1──│ bubble  33.3%  peak 2 act',
        'rank 1 │··F0B0──F1B1──····│ bubble  33.3%  peak 1 act',
        '        makespan 9, bubble 33.3%',
        '',
      ].join('\n'),
    );
  });
});

describe('toPerfettoTrace', () => {
  it('has one named track per device, a complete event per box and flows for transfers', () => {
    const result = simulated('1f1b', 2, 2, 1, 0.5);
    const trace = toPerfettoTrace(result, { label: '1f1b' });
    const names = trace.traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.args?.name);
    expect(names).toEqual(['rank 0', 'rank 1']);
    const boxes = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(boxes).toHaveLength(8);
    expect(boxes[0]).toEqual({ name: 'F0 s0', cat: 'F', ph: 'X', pid: 0, tid: 0, ts: 0, dur: 1000, args: { stage: 0, microbatch: 0 } });
    expect(trace.traceEvents.filter((e) => e.ph === 's')).toHaveLength(4);
    expect(JSON.parse(JSON.stringify(trace))).toEqual(trace);
  });
});

describe('format', () => {
  it('chooses readable units', () => {
    expect(formatTime(0.00125, 'seconds')).toBe('1.25 ms');
    expect(formatTime(3.5e-5, 'seconds')).toBe('35 µs');
    expect(formatMemory(3 * 1024 ** 3, 'bytes')).toBe('3 GiB');
    expect(tickStep(57, 10)).toBe(5);
    expect(tickStep(0.0031, 10)).toBeCloseTo(0.0002, 12);
  });
});
