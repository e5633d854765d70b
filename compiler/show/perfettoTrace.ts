// A Chrome / Perfetto trace (the Trace Event Format's JSON object form):
// one process per simulated schedule, one thread (track) per device,
// complete events ("X") for every box of the timeline, and flow arrows
// ("s"/"f") from each send to its receive. Open it in ui.perfetto.dev or
// chrome://tracing. Timestamps are microseconds: seconds × 10⁶, or one unit
// step = 1 ms under unit costs, so the picture keeps its proportions.

import type { SimulationResult } from '../simulate/simulate.ts';
import type { TimeUnit } from './format.ts';

export interface TraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'M' | 's' | 'f';
  readonly pid: number;
  readonly tid: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly id?: number;
  readonly bp?: 'e';
  readonly args?: Readonly<Record<string, string | number>>;
}

export interface PerfettoTrace {
  readonly traceEvents: readonly TraceEvent[];
  readonly displayTimeUnit: 'ms' | 'ns';
}

export function toPerfettoTrace(
  result: SimulationResult,
  options: { readonly timeUnit?: TimeUnit; readonly label?: string; readonly pid?: number } = {},
): PerfettoTrace {
  const toMicroseconds = (options.timeUnit ?? 'steps') === 'seconds' ? 1e6 : 1e3;
  const pid = options.pid ?? 0;
  const ts = (time: number) => Math.round(time * toMicroseconds * 1000) / 1000;
  const events: TraceEvent[] = [{ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: options.label ?? 'pipeline' } }];
  for (const device of result.devices) {
    events.push({ name: 'thread_name', ph: 'M', pid, tid: device.device, args: { name: device.label } });
    events.push({ name: 'thread_sort_index', ph: 'M', pid, tid: device.device, args: { sort_index: device.device } });
    for (const interval of device.timeline) {
      const perMicrobatch = interval.kind !== 'allreduce' && interval.kind !== 'optimizer';
      events.push({
        name: perMicrobatch ? `${interval.kind}${interval.microbatch} s${interval.stage}` : `${interval.kind} s${interval.stage}`,
        cat: interval.kind,
        ph: 'X',
        pid,
        tid: device.device,
        ts: ts(interval.start),
        dur: ts(interval.end) - ts(interval.start),
        args: perMicrobatch ? { stage: interval.stage, microbatch: interval.microbatch } : { stage: interval.stage },
      });
    }
  }
  result.transfers.forEach((transfer, index) => {
    const name = `${transfer.kind} s${transfer.stage} mb${transfer.microbatch}`;
    events.push({ name, cat: 'transfer', ph: 's', id: pid * 1_000_000 + index, pid, tid: transfer.from, ts: ts(transfer.sent) });
    events.push({ name, cat: 'transfer', ph: 'f', bp: 'e', id: pid * 1_000_000 + index, pid, tid: transfer.to, ts: ts(transfer.arrived) });
  });
  return { traceEvents: events, displayTimeUnit: 'ms' };
}

/** Several schedules in one trace, one process each (for --compare). */
export function mergePerfettoTraces(traces: readonly PerfettoTrace[]): PerfettoTrace {
  return { traceEvents: traces.flatMap((trace) => trace.traceEvents), displayTimeUnit: 'ms' };
}
