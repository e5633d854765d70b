// Chrome / Perfetto trace events of what each device really did. One
// process, one thread (row) per device; times in microseconds.

import type { IrProgram } from '../compiler/ir/types.ts';

export interface TraceEvent {
  readonly name: string;
  readonly cat: string;
  readonly ph: 'X' | 'M' | 'C';
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly args?: Readonly<Record<string, unknown>>;
}

export function traceDocument(ir: IrProgram, events: readonly TraceEvent[]): { traceEvents: TraceEvent[]; displayTimeUnit: 'ms' } {
  const names: TraceEvent[] = [
    { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: 0, tid: 0, args: { name: `pipec ${ir.pipeline} (${ir.schedule})` } },
    ...ir.devices.map((device): TraceEvent => ({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: 0, tid: device.index, args: { name: device.name } })),
  ];
  return { traceEvents: [...names, ...events], displayTimeUnit: 'ms' };
}

/**
 * Bubble fraction of a step from its trace: 1 - compute time / (devices ×
 * span), the span running from the first compute start to the last compute
 * end over all devices (the definition the simulator uses for its makespan).
 */
export function measuredBubble(events: readonly TraceEvent[], deviceCount: number): number {
  const compute = events.filter((e) => e.cat === 'compute' && e.ph === 'X');
  if (compute.length === 0) return 0;
  const start = Math.min(...compute.map((e) => e.ts));
  const end = Math.max(...compute.map((e) => e.ts + (e.dur ?? 0)));
  const busy = compute.reduce((sum, e) => sum + (e.dur ?? 0), 0);
  return 1 - busy / (deviceCount * (end - start));
}
