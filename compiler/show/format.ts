// Number formatting shared by the timeline renderers. Times are seconds
// under derived or measured costs and abstract steps under unit costs;
// memory is bytes, or activation units under unit costs.

import type { TimelineKind } from '../simulate/simulate.ts';

export type TimeUnit = 'seconds' | 'steps';
export type MemoryUnit = 'bytes' | 'activations';

export interface UnitOptions {
  readonly timeUnit?: TimeUnit;
  readonly memoryUnit?: MemoryUnit;
}

/** Trims trailing zeros: 12.50 → 12.5, 3.00 → 3. */
export function compactNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  const fixed = value.toFixed(digits);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

export function formatTime(value: number, unit: TimeUnit = 'steps'): string {
  if (unit === 'steps') return compactNumber(value);
  const magnitude = Math.abs(value);
  if (magnitude === 0) return '0 s';
  if (magnitude < 1e-6) return `${compactNumber(value * 1e9)} ns`;
  if (magnitude < 1e-3) return `${compactNumber(value * 1e6)} µs`;
  if (magnitude < 1) return `${compactNumber(value * 1e3)} ms`;
  return `${compactNumber(value)} s`;
}

export function formatMemory(value: number, unit: MemoryUnit = 'activations'): string {
  if (unit === 'activations') return `${compactNumber(value)} act`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = value;
  let index = 0;
  while (Math.abs(scaled) >= 1024 && index < units.length - 1) {
    scaled /= 1024;
    index++;
  }
  return `${compactNumber(scaled, index === 0 ? 0 : 1)} ${units[index]}`;
}

export function formatPercent(fraction: number): string {
  return `${compactNumber(fraction * 100, 1)}%`;
}

/** Colours per kind (Tableau 10, readable on white and in grey-scale print). */
export const KIND_COLOURS: Readonly<Record<TimelineKind | 'transfer', string>> = {
  F: '#4C78A8',
  B: '#E45756',
  I: '#F58518',
  W: '#54A24B',
  S: '#79706E',
  T: '#D67195',
  recompute: '#B279A2',
  offload: '#9D755D',
  reload: '#BAB0AC',
  allreduce: '#72B7B2',
  optimizer: '#EECA3B',
  transfer: '#555555',
};

export const KIND_NAMES: Readonly<Record<TimelineKind | 'transfer', string>> = {
  F: 'F forward',
  B: 'B backward',
  I: 'I backward (inputs)',
  W: 'W backward (weights)',
  S: 'S vocabulary shard forward (logits, max, sum)',
  T: 'T vocabulary shard backward (softmax gradient)',
  recompute: 'recompute',
  offload: 'offload',
  reload: 'reload',
  allreduce: 'allreduce',
  optimizer: 'optimizer step',
  transfer: 'transfer (send to recv)',
};

/**
 * The one unit a time axis is labelled in: bare numbers on the ticks and the
 * unit named once, so an axis never mixes "900 µs" with "1.2 ms". Unit costs
 * count abstract time units; seconds pick the prefix that keeps the
 * horizon's ticks between 1 and 1000.
 */
export interface AxisUnit {
  /** Shown once beside the axis: `time units`, `ms`, `µs`, … */
  readonly name: string;
  /** Multiply a time by this to get the tick's number. */
  readonly factor: number;
}

export function axisUnit(horizon: number, unit: TimeUnit = 'steps'): AxisUnit {
  if (unit === 'steps') return { name: 'time units', factor: 1 };
  const magnitude = Math.abs(horizon);
  if (magnitude >= 1 || magnitude === 0) return { name: 's', factor: 1 };
  if (magnitude >= 1e-3) return { name: 'ms', factor: 1e3 };
  if (magnitude >= 1e-6) return { name: 'µs', factor: 1e6 };
  return { name: 'ns', factor: 1e9 };
}

/** A tick's number in the axis unit, free of floating-point dust (0.30000000000000004 → 0.3). */
export function axisTickLabel(time: number, unit: AxisUnit): string {
  return String(Number((time * unit.factor).toPrecision(10)));
}

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` ticks over `span`. */
export function tickStep(span: number, target: number): number {
  if (!(span > 0)) return 1;
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const nice = scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10;
  return nice * power;
}

/** The smallest "nice" step (1, 2 or 5 × 10^k) that is at least `minimum`. */
export function niceStepAtLeast(minimum: number): number {
  if (!(minimum > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(minimum));
  for (const nice of [1, 2, 5, 10]) if (nice * power >= minimum * (1 - 1e-9)) return nice * power;
  return 10 * power;
}
