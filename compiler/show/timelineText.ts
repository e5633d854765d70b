// A compact timeline for the terminal: one line per device, each box its
// kind letter and microbatch number (`F12──`), idle `·`, and a ruler of
// times above. Every box of the picture starts on a cell boundary: one
// cell is one character wider than the longest label (`F15` → 4), and the
// shortest box (one time unit under unit costs) is one cell, so labels
// never overwrite each other however many microbatches or time steps
// there are. A long timeline wraps into blocks that fit the line width,
// each with its own ruler; the last block ends each line with the
// device's bubble and peak memory.

import type { SimulationResult, TimelineInterval } from '../simulate/simulate.ts';
import { axisTickLabel, axisUnit, formatMemory, formatPercent, formatTime, niceStepAtLeast, type UnitOptions } from './format.ts';

export interface TextOptions extends UnitOptions {
  /** Characters per line; longer timelines wrap into blocks (default 120). */
  readonly width?: number;
  /**
   * Under uneven (derived or measured) costs, at most this many timeline
   * characters in all; beyond, time is compressed and short boxes show only
   * their letter (default 480). Unit-cost timelines are never compressed.
   */
  readonly maxColumns?: number;
}

const LETTERS: Readonly<Record<TimelineInterval['kind'], string>> = {
  F: 'F', B: 'B', I: 'I', W: 'W', recompute: 'R', offload: 'O', reload: 'L', allreduce: 'A', optimizer: 'U',
};

function tagOf(interval: TimelineInterval): string {
  return interval.kind === 'allreduce' || interval.kind === 'optimizer' ? LETTERS[interval.kind] : `${LETTERS[interval.kind]}${interval.microbatch}`;
}

/**
 * Columns per unit of time: one time unit (unit costs) or a short box
 * (other costs) gets one cell, as wide as the longest label. Under derived
 * costs a few near-free stages (an input layer) would stretch the picture,
 * so the cell is the box length a tenth of the boxes are shorter than.
 */
function columnsPerTime(result: SimulationResult, cellWidth: number, maxColumns: number): number {
  const durations = result.devices
    .flatMap((device) => device.timeline.map((interval) => interval.end - interval.start))
    .filter((d) => d > 1e-12)
    .sort((a, b) => a - b);
  const integral = result.devices.every((device) => device.timeline.every((i) => Number.isInteger(i.start) && Number.isInteger(i.end)));
  const quantum = integral ? 1 : durations.length > 0 ? durations[Math.floor(durations.length / 10)] : result.makespan || 1;
  const wanted = cellWidth / quantum;
  // Whole time units stay exact however long (the picture wraps); only uneven costs are compressed.
  return !integral && result.makespan * wanted > maxColumns ? maxColumns / result.makespan : wanted;
}

/** A ruler line: each tick's number starting at its column, skipped where it would touch the previous one. */
function ruler(from: number, to: number, perTime: number, step: number, unit: ReturnType<typeof axisUnit>): string {
  if (!(perTime > 0)) return '0';
  const cells = new Array<string>(to - from).fill(' ');
  let free = 0;
  for (let k = Math.ceil(from / perTime / step - 1e-9); ; k++) {
    const column = Math.round(k * step * perTime) - from;
    if (column >= to - from) break;
    const label = axisTickLabel(k * step, unit);
    if (column < free || column + label.length > to - from) continue;
    for (let i = 0; i < label.length; i++) cells[column + i] = label[i];
    free = column + label.length + 1;
  }
  return cells.join('').trimEnd();
}

export function renderTimelineText(result: SimulationResult, options: TextOptions = {}): string {
  const makespan = result.makespan;
  const tags = result.devices.map((device) => device.timeline.map(tagOf));
  // One column more than the longest label, so two boxes side by side never read as one label (F10B7).
  const cellWidth = Math.max(2, ...tags.flat().map((tag) => tag.length + 1));
  const perTime = makespan > 0 ? columnsPerTime(result, cellWidth, options.maxColumns ?? 480) : 0;
  const columns = Math.max(1, Math.round(makespan * perTime));
  const unit = axisUnit(makespan, options.timeUnit);
  const unitLabel = unit.name === 'time units' ? 'units' : unit.name;
  const labelWidth = Math.max(...result.devices.map((device) => device.label.length), unitLabel.length, 4);

  const rows = result.devices.map((device, d) => {
    const cells = new Array<string>(columns).fill('·');
    device.timeline.forEach((interval, i) => {
      const from = Math.round(interval.start * perTime);
      const to = Math.max(from + 1, Math.round(interval.end * perTime));
      const tag = tags[d][i];
      const fits = to - from >= tag.length;
      for (let c = from; c < to && c < columns; c++) {
        const offset = c - from;
        cells[c] = fits && offset < tag.length ? tag[offset] : offset === 0 ? tag[0] : '─';
      }
    });
    return cells;
  });
  const stats = result.devices.map(
    (device) => ` bubble ${formatPercent(device.bubble).padStart(6)}  peak ${formatMemory(device.memory.peak, options.memoryUnit)}`,
  );

  // Blocks break on cell boundaries, so a box label is never cut in two.
  const width = options.width ?? 120;
  const statsWidth = Math.max(...stats.map((line) => line.length));
  const available = width - labelWidth - 3 - statsWidth;
  const blockColumns = columns <= Math.max(available, cellWidth) ? columns : Math.max(cellWidth, Math.floor(available / cellWidth) * cellWidth);
  const step = perTime > 0 ? niceStepAtLeast(Math.max(cellWidth * 2, 6) / perTime) : 1;

  const lines: string[] = [];
  for (let from = 0; from < columns; from += blockColumns) {
    const to = Math.min(columns, from + blockColumns);
    const last = to === columns;
    if (from > 0) lines.push('');
    lines.push(`${unitLabel.padStart(labelWidth)}  ${ruler(from, to, perTime, step, unit)}`.trimEnd());
    result.devices.forEach((device, d) => {
      lines.push(`${device.label.padStart(labelWidth)} │${rows[d].slice(from, to).join('')}│${last ? stats[d] : ''}`);
    });
  }
  lines.push(
    `${''.padStart(labelWidth)}  makespan ${formatTime(makespan, options.timeUnit)}${unit.name === 'time units' ? ' time units' : ''}, bubble ${formatPercent(result.bubble)}` +
      (result.stuck.length > 0 ? `, ${result.stuck.length} device(s) stuck` : ''),
  );
  return lines.join('\n') + '\n';
}
