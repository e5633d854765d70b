// What the playground shows for one program text: its diagnostics (located
// in the edited file, for the squiggles), the timeline picture and the
// simulate table. It asks the core's one compilation for everything and
// renders nothing itself but the table cells, so the page shows what
// `pipec check`, `pipec show` and `pipec simulate` would print.

import {
  compileFile, createMemoryHost, formatMemory, formatPercent, formatTime, LineMap, renderTimelineSvg,
  simulateCompilation, succeeded, withSchedule, type Compilation, type Diagnostic,
} from '../compiler/index.ts';

/** The file name the edited program has inside the memory host. */
export const PLAYGROUND_FILE = 'main.pipe';

export interface LocatedDiagnostic {
  readonly code: string;
  readonly severity: Diagnostic['severity'];
  readonly message: string;
  readonly hint?: string;
  /** Offsets in the edited text; undefined when the span is in another file (an import). */
  readonly start?: number;
  readonly end?: number;
  /** `main.pipe:3:7` or `other.pipe:1:1`. */
  readonly location: string;
}

export interface DeviceRow {
  readonly device: string;
  readonly busy: string;
  readonly idle: string;
  readonly bubble: string;
  readonly peak: string;
  readonly capacity?: string;
  readonly overCapacity: boolean;
}

export interface Analysis {
  readonly diagnostics: readonly LocatedDiagnostic[];
  /** Why nothing was drawn when that is not a diagnostic (no pipeline, a schedule that does not fit). */
  readonly note?: string;
  readonly title?: string;
  readonly makespan?: string;
  readonly bubble?: string;
  readonly svg?: string;
  readonly devices: readonly DeviceRow[];
}

/**
 * Compiles `text` (with `library` as the other files it may import, such as
 * the samples and their TypeScript layers) and simulates it, under its own
 * schedule or, when `schedule` is given, under that built-in schedule.
 */
export function analyse(text: string, options: { readonly schedule?: string; readonly library?: Readonly<Record<string, string>> } = {}): Analysis {
  const host = createMemoryHost({ ...options.library, [PLAYGROUND_FILE]: text });
  let compilation: Compilation = compileFile(PLAYGROUND_FILE, host, options.schedule ? { until: 'check' } : {});
  if (options.schedule && succeeded(compilation) && compilation.program) compilation = withSchedule(compilation, options.schedule);
  const diagnostics = locate(compilation);
  const simulated = succeeded(compilation) ? simulateCompilation(compilation) : undefined;
  if (simulated === undefined) {
    // A built-in schedule the program does not fit reports at the program's own lines: say which schedule it was.
    const note = compilation.stop?.message ?? (options.schedule && diagnostics.length > 0 ? `under schedule ${options.schedule}${compilation.restaged ? ` (re-split: ${compilation.restaged})` : ''}, the program does not compile` : undefined);
    return { diagnostics, devices: [], ...(note === undefined ? {} : { note }) };
  }
  const { result, timeUnit, memoryUnit } = simulated;
  const devices = result.devices.map((device, index): DeviceRow => {
    const capacity = simulated.capacity?.[index];
    return {
      device: device.label,
      busy: formatTime(device.busy, timeUnit),
      idle: formatTime(device.idle, timeUnit),
      bubble: formatPercent(device.bubble),
      peak: formatMemory(device.memory.peak, memoryUnit),
      ...(capacity === undefined ? {} : { capacity: formatMemory(capacity, memoryUnit) }),
      overCapacity: capacity !== undefined && device.memory.peak > capacity,
    };
  });
  return {
    diagnostics,
    title: simulated.title,
    makespan: formatTime(result.makespan, timeUnit),
    bubble: formatPercent(result.bubble),
    svg: renderTimelineSvg([{ label: simulated.label, result }], { timeUnit, memoryUnit }),
    devices,
    ...(result.stuck.length > 0 ? { note: `${result.stuck.length} device(s) stuck; the picture stops where they wait` } : {}),
  };
}

function locate(compilation: Compilation): LocatedDiagnostic[] {
  const lineMaps = new Map<string, LineMap>();
  const where = (file: string, offset: number): string => {
    const text = compilation.sources.get(file);
    if (text === undefined) return file;
    let map = lineMaps.get(file);
    if (map === undefined) lineMaps.set(file, (map = new LineMap(text)));
    const { line, column } = map.locate(offset);
    return `${file}:${line}:${column}`;
  };
  return [...compilation.diagnostics]
    .sort((a, b) => (a.span.file === b.span.file ? a.span.start - b.span.start : a.span.file === PLAYGROUND_FILE ? -1 : 1))
    .map((diagnostic) => ({
      code: diagnostic.code,
      severity: diagnostic.severity,
      message: diagnostic.message,
      ...(diagnostic.hint === undefined ? {} : { hint: diagnostic.hint }),
      ...(diagnostic.span.file === PLAYGROUND_FILE ? { start: diagnostic.span.start, end: diagnostic.span.end } : {}),
      location: where(diagnostic.span.file, diagnostic.span.start),
    }));
}
