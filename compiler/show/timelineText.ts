// A compact timeline for the terminal: one line per device, time scaled to
// a fixed number of columns; each box is its kind letter followed by its
// microbatch number as far as the box is wide (`F12─`), idle is `·`, and each
// line ends with the device's bubble and peak memory.

import type { SimulationResult } from '../simulate/simulate.ts';
import { formatMemory, formatPercent, formatTime, type UnitOptions } from './format.ts';

export interface TextOptions extends UnitOptions {
  /** Columns of the time axis (default: 2 per time step up to 120, for unit costs; else 100). */
  readonly columns?: number;
}

const LETTERS: Readonly<Record<string, string>> = {
  F: 'F', B: 'B', I: 'I', W: 'W', recompute: 'R', offload: 'O', reload: 'L', allreduce: 'A', optimizer: 'U',
};

export function renderTimelineText(result: SimulationResult, options: TextOptions = {}): string {
  const makespan = result.makespan;
  const integral = result.devices.every((device) => device.timeline.every((i) => Number.isInteger(i.start) && Number.isInteger(i.end)));
  const columns = options.columns ?? (integral && makespan * 2 <= 160 ? Math.max(1, makespan * 2) : 100);
  const scale = makespan > 0 ? columns / makespan : 0;
  const labelWidth = Math.max(...result.devices.map((device) => device.label.length), 4);
  const lines: string[] = [];
  for (const device of result.devices) {
    const cells = new Array<string>(columns).fill('·');
    for (const interval of device.timeline) {
      const from = Math.round(interval.start * scale);
      const to = Math.max(from + 1, Math.round(interval.end * scale));
      const tag = interval.kind === 'allreduce' || interval.kind === 'optimizer'
        ? LETTERS[interval.kind]
        : `${LETTERS[interval.kind]}${interval.microbatch}`;
      for (let c = from; c < to && c < columns; c++) {
        const offset = c - from;
        cells[c] = offset < tag.length && to - from >= tag.length ? tag[offset] : offset === 0 ? tag[0] : '─';
      }
    }
    lines.push(
      `${device.label.padStart(labelWidth)} │${cells.join('')}│ bubble ${formatPercent(device.bubble).padStart(6)}  peak ${formatMemory(device.memory.peak, options.memoryUnit)}`,
    );
  }
  lines.push(
    `${''.padStart(labelWidth)}  makespan ${formatTime(makespan, options.timeUnit)}, bubble ${formatPercent(result.bubble)}` +
      (result.stuck.length > 0 ? `, ${result.stuck.length} device(s) stuck` : ''),
  );
  return lines.join('\n') + '\n';
}
