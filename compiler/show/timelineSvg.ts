// The schedule timeline as SVG: one row per device, boxes coloured by kind
// with the microbatch number inside, idle time hatched, transfers as thin
// bars under the sender's row, and per device its bubble and peak memory at
// the right. Several schedules stack on one shared time axis (--compare),
// so equal widths mean equal times across them.
// Output is deterministic (fixed rounding, no dates or random ids), so a
// golden file can guard it.

import type { SimulationResult, TimelineKind } from '../simulate/simulate.ts';
import {
  compactNumber,
  formatMemory,
  formatPercent,
  formatTime,
  KIND_COLOURS,
  KIND_NAMES,
  tickStep,
  type UnitOptions,
} from './format.ts';

export interface LabelledTimeline {
  readonly label: string;
  readonly result: SimulationResult;
}

export interface SvgOptions extends UnitOptions {
  /** Width of the time axis in pixels (default 960). */
  readonly plotWidth?: number;
}

const ROW_HEIGHT = 22;
const ROW_GAP = 4;
const LABEL_WIDTH = 96;
const STATS_WIDTH = 210;
const SECTION_TITLE = 26;
const SECTION_GAP = 18;
const AXIS_HEIGHT = 28;
const LEGEND_HEIGHT = 30;
const MARGIN = 12;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function px(value: number): string {
  return compactNumber(value, 2);
}

/** Dark text on light boxes, white on dark ones. */
/** Later chunks (stages) on a device get lighter shades of their kind's colour. */
function shade(fill: string, chunk: number): string {
  if (chunk === 0) return fill;
  const mix = Math.min(0.6, 0.3 * chunk);
  const channel = (offset: number) => {
    const value = parseInt(fill.slice(offset, offset + 2), 16);
    return Math.round(value + (255 - value) * mix).toString(16).padStart(2, '0');
  };
  return `#${channel(1)}${channel(3)}${channel(5)}`;
}

function textColour(fill: string): string {
  const r = parseInt(fill.slice(1, 3), 16);
  const g = parseInt(fill.slice(3, 5), 16);
  const b = parseInt(fill.slice(5, 7), 16);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#222' : '#fff';
}

export function renderTimelineSvg(timelines: readonly LabelledTimeline[], options: SvgOptions = {}): string {
  const plotWidth = options.plotWidth ?? 960;
  const horizon = Math.max(...timelines.map((t) => t.result.makespan), 0) || 1;
  const scale = plotWidth / horizon;
  const plotLeft = MARGIN + LABEL_WIDTH;
  const width = plotLeft + plotWidth + STATS_WIDTH + MARGIN;
  const kindsUsed = new Set<TimelineKind | 'transfer'>();
  for (const { result } of timelines) {
    for (const device of result.devices) for (const interval of device.timeline) kindsUsed.add(interval.kind);
    if (result.transfers.some((t) => t.arrived > t.sent)) kindsUsed.add('transfer');
  }

  const body: string[] = [];
  let y = MARGIN + LEGEND_HEIGHT;

  for (const { label, result } of timelines) {
    body.push(
      `<text class="title" x="${MARGIN}" y="${px(y + 16)}">${escapeXml(label)} — makespan ${escapeXml(formatTime(result.makespan, options.timeUnit))}, bubble ${formatPercent(result.bubble)}</text>`,
    );
    y += SECTION_TITLE;
    const rowTop = new Map<number, number>();
    result.devices.forEach((device, row) => {
      const top = y + row * (ROW_HEIGHT + ROW_GAP);
      rowTop.set(device.device, top);
      const rowWidth = result.makespan * scale;
      body.push(`<text class="device" x="${plotLeft - 6}" y="${px(top + ROW_HEIGHT / 2 + 4)}">${escapeXml(device.label)}</text>`);
      // Idle time is whatever the boxes leave uncovered on the hatched row.
      body.push(`<rect class="idle" x="${plotLeft}" y="${px(top)}" width="${px(rowWidth)}" height="${ROW_HEIGHT}"/>`);
      const stagesHere = [...new Set(device.timeline.map((interval) => interval.stage))].sort((a, b) => a - b);
      for (const interval of device.timeline) {
        const x = plotLeft + interval.start * scale;
        const w = (interval.end - interval.start) * scale;
        const fill = shade(KIND_COLOURS[interval.kind], stagesHere.indexOf(interval.stage));
        const name = interval.kind === 'allreduce' || interval.kind === 'optimizer'
          ? `${interval.kind} stage ${interval.stage}`
          : `${interval.kind} stage ${interval.stage} microbatch ${interval.microbatch}`;
        body.push(
          `<rect class="box" x="${px(x)}" y="${px(top)}" width="${px(Math.max(w, 0.5))}" height="${ROW_HEIGHT}" fill="${fill}"><title>${escapeXml(`${name}: ${formatTime(interval.start, options.timeUnit)} – ${formatTime(interval.end, options.timeUnit)}`)}</title></rect>`,
        );
        const text = interval.kind === 'allreduce' || interval.kind === 'optimizer' ? '' : String(interval.microbatch);
        if (text !== '' && w >= 7 * text.length + 2) {
          body.push(`<text class="mb" x="${px(x + w / 2)}" y="${px(top + ROW_HEIGHT / 2 + 4)}" fill="${textColour(fill)}">${text}</text>`);
        }
      }
      body.push(
        `<text class="stats" x="${px(plotLeft + plotWidth + 10)}" y="${px(top + ROW_HEIGHT / 2 + 4)}">bubble ${formatPercent(device.bubble)} · peak ${escapeXml(formatMemory(device.memory.peak, options.memoryUnit))}</text>`,
      );
    });
    for (const transfer of result.transfers) {
      if (!(transfer.arrived > transfer.sent)) continue;
      const top = rowTop.get(transfer.from);
      if (top === undefined) continue;
      body.push(
        `<rect class="transfer" x="${px(plotLeft + transfer.sent * scale)}" y="${px(top + ROW_HEIGHT - 3)}" width="${px((transfer.arrived - transfer.sent) * scale)}" height="3"><title>${escapeXml(`${transfer.kind} of stage ${transfer.stage} microbatch ${transfer.microbatch} to device ${transfer.to}`)}</title></rect>`,
      );
    }
    y += result.devices.length * (ROW_HEIGHT + ROW_GAP) + SECTION_GAP;
  }

  // The shared time axis.
  const axisTop = y - SECTION_GAP + 6;
  const step = tickStep(horizon, 10);
  body.push(`<line class="axis" x1="${plotLeft}" y1="${px(axisTop)}" x2="${px(plotLeft + plotWidth)}" y2="${px(axisTop)}"/>`);
  for (let tick = 0; tick <= horizon + step * 1e-9; tick += step) {
    const x = plotLeft + tick * scale;
    body.push(`<line class="axis" x1="${px(x)}" y1="${px(axisTop)}" x2="${px(x)}" y2="${px(axisTop + 5)}"/>`);
    body.push(`<text class="tick" x="${px(x)}" y="${px(axisTop + 17)}">${escapeXml(formatTime(Number(tick.toPrecision(12)), options.timeUnit))}</text>`);
  }
  const height = axisTop + AXIS_HEIGHT + MARGIN;

  // Legend of the kinds present.
  const legend: string[] = [];
  let lx = plotLeft;
  const order: (TimelineKind | 'transfer')[] = ['F', 'B', 'I', 'W', 'recompute', 'offload', 'reload', 'allreduce', 'optimizer', 'transfer'];
  for (const kind of order) {
    if (!kindsUsed.has(kind)) continue;
    legend.push(`<rect x="${lx}" y="${MARGIN + 4}" width="14" height="14" fill="${KIND_COLOURS[kind]}"/>`);
    legend.push(`<text class="legend" x="${lx + 19}" y="${MARGIN + 15}">${escapeXml(KIND_NAMES[kind])}</text>`);
    lx += 26 + KIND_NAMES[kind].length * 6.5;
  }
  legend.push(`<rect class="idle" x="${lx}" y="${MARGIN + 4}" width="14" height="14"/>`);
  legend.push(`<text class="legend" x="${lx + 19}" y="${MARGIN + 15}">idle</text>`);

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}" font-family="Helvetica, Arial, sans-serif">`,
    '<defs><pattern id="idle" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d0d0d0" stroke-width="2"/></pattern></defs>',
    '<style>rect{stroke:none}.title{font-size:13px;font-weight:bold;fill:#222}.device{font-size:11px;fill:#333;text-anchor:end}.stats{font-size:11px;fill:#333}.mb{font-size:10px;text-anchor:middle}.tick{font-size:10px;fill:#444;text-anchor:middle}.legend{font-size:11px;fill:#333}.axis{stroke:#444;stroke-width:1}.idle{fill:url(#idle)}.transfer{fill:#555555}.box{stroke:#fff;stroke-width:0.6}</style>',
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    ...legend,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
