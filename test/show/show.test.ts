import { describe, expect, it } from 'vitest';
import { unitCostModel, type CostModel } from '../../compiler/cost/types.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import fc from 'fast-check';
import { builtinSchedule, builtinScheduleNames, defaultStagesPerDevice } from '../../compiler/schedule/builtin.ts';
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

  it('sizes box labels to fit, so two-digit microbatches in narrow boxes shrink rather than vanish', () => {
    const svg = renderTimelineSvg([{ label: 'm16', result: simulated('1f1b', 4, 16, 1) }], { width: 900 });
    const labels = [...svg.matchAll(/<text class="mb" x="[\d.]+" y="[\d.]+" font-size="([\d.]+)" fill="#\w+">(\d+)<\/text>/g)];
    // Every F, B of every microbatch on every device is labelled.
    expect(labels).toHaveLength(4 * 16 * 2);
    const sizes = (digits: number) => labels.filter((m) => m[2].length === digits).map((m) => Number(m[1]));
    expect(Math.min(...sizes(2))).toBeGreaterThanOrEqual(5);
    expect(Math.max(...sizes(2))).toBeLessThanOrEqual(Math.max(...sizes(1)));
  });

  it('takes the picture width and a scale that keeps the drawing', () => {
    const result = simulated('1f1b', 2, 4, 1);
    const svg = renderTimelineSvg([{ label: 'w', result }], { width: 800, scale: 2 });
    const root = /<svg [^>]*>/.exec(svg)![0];
    expect(root).toMatch(/ width="1600" /);
    expect(root).toMatch(/viewBox="0 0 800 [\d.]+"/);
    const height = Number(/viewBox="0 0 800 ([\d.]+)"/.exec(root)![1]);
    expect(root).toContain(`height="${height * 2}"`);
  });

  it('draws stage numbers when asked and names the axis unit', () => {
    const result = simulated('zb_v', 2, 4, 2);
    const plain = renderTimelineSvg([{ label: 'v', result }]);
    const numbered = renderTimelineSvg([{ label: 'v', result }], { stageNumbers: true });
    expect(plain).not.toContain('class="stage"');
    const boxes = numbered.match(/<rect class="box"/g)!.length;
    const stages = [...numbered.matchAll(/<text class="stage"[^>]*>s(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(stages).toHaveLength(boxes);
    expect(new Set(stages)).toEqual(new Set([0, 1, 2, 3]));
    expect(plain).toContain('>time (time units)</text>');
  });

  it('names chunks in the legend when a device holds several stages, and not otherwise', () => {
    expect(renderTimelineSvg([{ label: 'v', result: simulated('zb_v', 2, 4, 2) }])).toContain('chunk 1 (lighter)');
    expect(renderTimelineSvg([{ label: 'one', result: simulated('1f1b', 2, 4, 1) }])).not.toContain('chunk');
  });

  it('outlines and names the second model copy when a timeline has copies', () => {
    const result = simulated('1f1b', 2, 2, 1);
    const mirrored = {
      ...result,
      devices: result.devices.map((device) => ({ ...device, timeline: device.timeline.map((i) => ({ ...i, copy: i.microbatch % 2 })) })),
    };
    const svg = renderTimelineSvg([{ label: 'two copies', result: mirrored }]);
    expect(svg).toContain('>model copy 0</text>');
    expect(svg).toContain('>model copy 1 (outlined)</text>');
    expect(svg.match(/<rect class="box copy1"/g)).toHaveLength(4);
    expect(svg).toContain('<title>F stage 0 microbatch 1 (model copy 1): 1 – 2</title>');
    expect(renderTimelineSvg([{ label: 'one copy', result }])).not.toContain('model copy');
  });
});

describe('renderTimelineText', () => {
  it('prints a ruler and a compact line per device', () => {
    expect(renderTimelineText(simulated('1f1b', 2, 2, 1))).toBe(
      [
        ' units  0     2     4     6     8',
        'rank 0 │F0─F1─······B0────···B1────│ bubble  33.3%  peak 2 act',
        'rank 1 │···F0─B0────F1─B1────······│ bubble  33.3%  peak 1 act',
        '        makespan 9 time units, bubble 33.3%',
        '',
      ].join('\n'),
    );
  });

  it('keeps every box on its cell past 50 time units and with microbatches ≥ 10 (zb_v, p 4, m 16)', async () => {
    const text = renderTimelineText(simulated('zb_v', 4, 16, 2));
    await expect(text).toMatchFileSnapshot('./golden/zbv-p4-m16.txt');
    // Cells are four characters ('F15' and one column between boxes), and a box of one time unit starts every four.
    for (const line of text.split('\n').filter((row) => row.startsWith('rank'))) {
      const cells = line.slice(line.indexOf('│') + 1, line.lastIndexOf('│'));
      expect(cells.length % 4).toBe(0);
      for (let c = 0; c < cells.length; c += 4) expect(cells.slice(c, c + 4)).toMatch(/^([FBIW]\d\d─|[FBIW]\d──|────|····)$/);
    }
    // No label lost: every F of every microbatch appears on each device, twice (two chunks).
    const rank0 = text.split('\n').filter((row) => row.startsWith('rank 0')).join('');
    for (let microbatch = 0; microbatch < 16; microbatch++) {
      expect(rank0.match(new RegExp(`F${microbatch}(?!\\d)`, 'g'))).toHaveLength(2);
    }
  });

  it('wraps into blocks that fit the width, each with its ruler, the stats on the last', () => {
    const text = renderTimelineText(simulated('1f1b', 4, 16, 1), { width: 80 });
    const lines = text.split('\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(80);
    expect(lines.filter((line) => line.trimStart().startsWith('units')).length).toBeGreaterThan(1);
    expect(lines.filter((line) => line.includes('bubble') && line.startsWith('rank'))).toHaveLength(4);
    // The blocks joined again are the one-line picture.
    const joined = (picture: string) => picture.split('\n').filter((line) => line.startsWith('rank 2')).map((line) => line.slice(8, line.lastIndexOf('│'))).join('');
    expect(joined(text)).toBe(joined(renderTimelineText(simulated('1f1b', 4, 16, 1), { width: 1000 })));
  });

  it('puts every box of every built-in schedule under unit costs on its own cells, label intact', () => {
    fc.assert(
      fc.property(fc.constantFrom(...builtinScheduleNames()), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 24 }), (name, devices, microbatches) => {
        const built = builtinSchedule(name, { devices, microbatches, stagesPerDevice: defaultStagesPerDevice(name) });
        fc.pre(built.schedule !== undefined);
        const result = simulate(lowerToInstructionStreams(built.schedule!, unitStageInfo(built.schedule!.stages)), unitCostModel(built.schedule!.stages));
        const lines = renderTimelineText(result, { width: 100_000 }).split('\n');
        const cellWidth = String(microbatches - 1).length + 2; // the letter, the number, and one column between boxes
        result.devices.forEach((device, d) => {
          const line = lines[1 + d];
          const cells = line.slice(line.indexOf('│') + 1, line.lastIndexOf('│'));
          expect(cells.length).toBe(result.makespan * cellWidth);
          for (const interval of device.timeline) {
            const tag = `${interval.kind}${interval.microbatch}`;
            expect(cells.slice(interval.start * cellWidth, interval.start * cellWidth + tag.length)).toBe(tag);
          }
        });
      }),
      { numRuns: 40, seed: 11 },
    );
  });

  it('draws a timeline with nothing in it', () => {
    const result = simulated('1f1b', 2, 2, 1);
    const empty = { ...result, makespan: 0, devices: result.devices.map((device) => ({ ...device, timeline: [] })) };
    expect(renderTimelineText(empty).split('\n').slice(0, 3)).toEqual([' units  0', 'rank 0 │·│ bubble  33.3%  peak 2 act', 'rank 1 │·│ bubble  33.3%  peak 1 act']);
    expect(renderTimelineSvg([{ label: 'empty', result: empty }])).toContain('empty — makespan 0');
  });

  it('labels derived costs in one unit on the ruler', () => {
    const result = simulated('1f1b', 2, 2, 1);
    const seconds = { ...result, makespan: result.makespan * 1e-3, devices: result.devices.map((device) => ({ ...device, timeline: device.timeline.map((i) => ({ ...i, start: i.start * 1e-3, end: i.end * 1e-3 })) })) };
    const text = renderTimelineText(seconds, { timeUnit: 'seconds' });
    expect(text.split('\n')[0]).toMatch(/^ {4}ms {2}0 /);
    expect(text).toContain('makespan 9 ms, bubble 33.3%');
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
