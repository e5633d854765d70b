// The schedule timeline as SVG: one row per device, boxes coloured by kind
// with the microbatch number inside (and the stage number, when asked),
// idle time hatched, transfers as thin bars under the sender's row, and per
// device its bubble and peak memory at the right. Several schedules stack
// on one shared time axis (--compare), so equal widths mean equal times
// across them. The axis is labelled in one unit, named under it.
// The legend names the kinds present, the chunks (a device's later stages
// in lighter shades) and the model copies (outlined boxes) when there are
// any. Text is sized to fit its box, so microbatch 12 in a narrow box
// shrinks rather than spills or vanishes.
// Output is deterministic (fixed rounding, no dates or random ids), so a
// golden file can guard it.

import type { SimulationResult, TimelineInterval, TimelineKind } from '../simulate/simulate.ts';
import {
  axisTickLabel,
  axisUnit,
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
  /** Width of the time axis in pixels (default 960); `width` wins when both are given. */
  readonly plotWidth?: number;
  /** Width of the whole picture in CSS pixels; the time axis gets what the labels and stats leave. */
  readonly width?: number;
  /** Multiplies the picture's size (its drawing stays the same): 2 for a sharper PNG, 0.5 for a column figure. */
  readonly scale?: number;
  /** Draw the stage number (`s3`) under the microbatch in every box wide enough. */
  readonly stageNumbers?: boolean;
}

const ROW_HEIGHT = 22;
const ROW_HEIGHT_WITH_STAGES = 30;
const ROW_GAP = 4;
const LABEL_WIDTH = 96;
const STATS_WIDTH = 210;
const SECTION_TITLE = 26;
const SECTION_GAP = 18;
const AXIS_HEIGHT = 42;
const LEGEND_ROW = 22;
const MARGIN = 12;
const MIN_PLOT_WIDTH = 120;
/** Box labels: the largest size, and the smallest still worth drawing. */
const LABEL_FONT = 10;
const MIN_LABEL_FONT = 5;
/** Helvetica's digits are 0.556 em wide; letters average a little more. */
const CHAR_WIDTH_EM = 0.6;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function px(value: number): string {
  return compactNumber(value, 2);
}

/** Later chunks (stages) on a device get lighter shades of their kind's colour. */
export function chunkShade(fill: string, chunk: number): string {
  if (chunk === 0) return fill;
  const mix = Math.min(0.6, 0.3 * chunk);
  const channel = (offset: number) => {
    const value = parseInt(fill.slice(offset, offset + 2), 16);
    return Math.round(value + (255 - value) * mix).toString(16).padStart(2, '0');
  };
  return `#${channel(1)}${channel(3)}${channel(5)}`;
}

/** Dark text on light boxes, white on dark ones. */
function textColour(fill: string): string {
  const r = parseInt(fill.slice(1, 3), 16);
  const g = parseInt(fill.slice(3, 5), 16);
  const b = parseInt(fill.slice(5, 7), 16);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#222' : '#fff';
}

/** The largest font size (at most `largest`) at which `text` fits `width` pixels, or undefined below legibility. */
function fittingFontSize(text: string, width: number, largest: number): number | undefined {
  const size = Math.min(largest, (width - 2) / (CHAR_WIDTH_EM * text.length));
  return size >= MIN_LABEL_FONT ? Math.floor(size * 10) / 10 : undefined;
}

/** Estimated width of legend text at 11 px. */
function legendTextWidth(text: string): number {
  return text.length * 11 * 0.5;
}

function perMicrobatch(interval: TimelineInterval): boolean {
  return interval.kind !== 'allreduce' && interval.kind !== 'optimizer';
}

interface LegendItem {
  /** The swatch's fill, or a class (`idle`). */
  readonly fill?: string;
  readonly swatchClass?: string;
  readonly text: string;
}

/** Legend items laid out left to right, wrapping at `right`; returns the elements and the rows used. */
function layoutLegend(items: readonly LegendItem[], left: number, right: number, top: number): { elements: string[]; rows: number } {
  const elements: string[] = [];
  let x = left;
  let row = 0;
  for (const item of items) {
    const width = 19 + legendTextWidth(item.text) + 12;
    if (x > left && x + width > right) {
      row++;
      x = left;
    }
    const y = top + row * LEGEND_ROW;
    const attributes = [item.swatchClass ? `class="${item.swatchClass}"` : '', item.fill ? `fill="${item.fill}"` : ''].filter(Boolean).join(' ');
    elements.push(`<rect ${attributes} x="${px(x)}" y="${y + 4}" width="14" height="14"/>`);
    elements.push(`<text class="legend" x="${px(x + 19)}" y="${y + 15}">${escapeXml(item.text)}</text>`);
    x += width;
  }
  return { elements, rows: row + 1 };
}

export function renderTimelineSvg(timelines: readonly LabelledTimeline[], options: SvgOptions = {}): string {
  const plotLeft = MARGIN + LABEL_WIDTH;
  const chrome = plotLeft + STATS_WIDTH + MARGIN;
  const plotWidth = options.width !== undefined ? Math.max(MIN_PLOT_WIDTH, options.width - chrome) : options.plotWidth ?? 960;
  const horizon = Math.max(...timelines.map((t) => t.result.makespan), 0) || 1;
  const scale = plotWidth / horizon;
  const width = plotLeft + plotWidth + STATS_WIDTH + MARGIN;
  const rowHeight = options.stageNumbers ? ROW_HEIGHT_WITH_STAGES : ROW_HEIGHT;

  const kindsUsed = new Set<TimelineKind | 'transfer'>();
  let chunks = 1;
  let copies = 1;
  for (const { result } of timelines) {
    for (const device of result.devices) {
      for (const interval of device.timeline) {
        kindsUsed.add(interval.kind);
        copies = Math.max(copies, (interval.copy ?? 0) + 1);
      }
      chunks = Math.max(chunks, new Set(device.timeline.map((interval) => interval.stage)).size);
    }
    if (result.transfers.some((t) => t.arrived > t.sent)) kindsUsed.add('transfer');
  }

  // The legend: kinds present, idle, then chunks and copies when there is more than one.
  const order: (TimelineKind | 'transfer')[] = ['F', 'B', 'I', 'W', 'S', 'T', 'recompute', 'offload', 'reload', 'allreduce', 'optimizer', 'transfer'];
  const items: LegendItem[] = order.filter((kind) => kindsUsed.has(kind)).map((kind) => ({ fill: KIND_COLOURS[kind], text: KIND_NAMES[kind] }));
  items.push({ swatchClass: 'idle', text: 'idle' });
  const chunkKind = kindsUsed.has('F') ? 'F' : [...kindsUsed].find((kind) => kind !== 'transfer') ?? 'F';
  for (let chunk = 0; chunks > 1 && chunk < Math.min(chunks, 3); chunk++) {
    items.push({ fill: chunkShade(KIND_COLOURS[chunkKind], chunk), text: chunk === 0 ? 'chunk 0 (a device\'s first stage)' : `chunk ${chunk}${chunks > 3 && chunk === 2 ? '+' : ''} (lighter)` });
  }
  if (copies > 1) {
    items.push({ fill: KIND_COLOURS[chunkKind], text: 'model copy 0' });
    items.push({ fill: KIND_COLOURS[chunkKind], swatchClass: 'copy1', text: 'model copy 1 (outlined)' });
  }
  const legend = layoutLegend(items, plotLeft, width - MARGIN, MARGIN);

  const body: string[] = [];
  let y = MARGIN + legend.rows * LEGEND_ROW + 8;

  for (const { label, result } of timelines) {
    body.push(
      `<text class="title" x="${MARGIN}" y="${px(y + 16)}">${escapeXml(label)} — makespan ${escapeXml(formatTime(result.makespan, options.timeUnit))}, bubble ${formatPercent(result.bubble)}</text>`,
    );
    y += SECTION_TITLE;
    const rowTop = new Map<number, number>();
    result.devices.forEach((device, row) => {
      const top = y + row * (rowHeight + ROW_GAP);
      rowTop.set(device.device, top);
      const rowWidth = result.makespan * scale;
      body.push(`<text class="device" x="${plotLeft - 6}" y="${px(top + rowHeight / 2 + 4)}">${escapeXml(device.label)}</text>`);
      // Idle time is whatever the boxes leave uncovered on the hatched row.
      body.push(`<rect class="idle" x="${plotLeft}" y="${px(top)}" width="${px(rowWidth)}" height="${rowHeight}"/>`);
      const stagesHere = [...new Set(device.timeline.map((interval) => interval.stage))].sort((a, b) => a - b);
      for (const interval of device.timeline) {
        const x = plotLeft + interval.start * scale;
        const w = (interval.end - interval.start) * scale;
        const fill = chunkShade(KIND_COLOURS[interval.kind], stagesHere.indexOf(interval.stage));
        const copy = interval.copy ?? 0;
        const name = perMicrobatch(interval)
          ? `${interval.kind} stage ${interval.stage} microbatch ${interval.microbatch}`
          : `${interval.kind} stage ${interval.stage}`;
        const copyName = copies > 1 ? ` (model copy ${copy})` : '';
        body.push(
          `<rect class="${copy > 0 ? 'box copy1' : 'box'}" x="${px(x)}" y="${px(top)}" width="${px(Math.max(w, 0.5))}" height="${rowHeight}" fill="${fill}"><title>${escapeXml(`${name}${copyName}: ${formatTime(interval.start, options.timeUnit)} – ${formatTime(interval.end, options.timeUnit)}`)}</title></rect>`,
        );
        const colour = textColour(fill);
        const microbatch = perMicrobatch(interval) ? String(interval.microbatch) : '';
        const microbatchSize = microbatch === '' ? undefined : fittingFontSize(microbatch, w, LABEL_FONT);
        const stageText = `s${interval.stage}`;
        const stageSize = options.stageNumbers ? fittingFontSize(stageText, w, 8) : undefined;
        if (microbatchSize !== undefined) {
          const baseline = stageSize !== undefined ? top + 12 : top + rowHeight / 2 + microbatchSize * 0.36;
          body.push(`<text class="mb" x="${px(x + w / 2)}" y="${px(baseline)}" font-size="${microbatchSize}" fill="${colour}">${microbatch}</text>`);
        }
        if (stageSize !== undefined) {
          const baseline = microbatchSize !== undefined ? top + rowHeight - 5 : top + rowHeight / 2 + stageSize * 0.36;
          body.push(`<text class="stage" x="${px(x + w / 2)}" y="${px(baseline)}" font-size="${stageSize}" fill="${colour}">${stageText}</text>`);
        }
      }
      body.push(
        `<text class="stats" x="${px(plotLeft + plotWidth + 10)}" y="${px(top + rowHeight / 2 + 4)}">bubble ${formatPercent(device.bubble)} · peak ${escapeXml(formatMemory(device.memory.peak, options.memoryUnit))}</text>`,
      );
    });
    for (const transfer of result.transfers) {
      if (!(transfer.arrived > transfer.sent)) continue;
      const top = rowTop.get(transfer.from);
      if (top === undefined) continue;
      body.push(
        `<rect class="transfer" x="${px(plotLeft + transfer.sent * scale)}" y="${px(top + rowHeight - 3)}" width="${px((transfer.arrived - transfer.sent) * scale)}" height="3"><title>${escapeXml(`${transfer.kind} of stage ${transfer.stage} microbatch ${transfer.microbatch} to device ${transfer.to}`)}</title></rect>`,
      );
    }
    y += result.devices.length * (rowHeight + ROW_GAP) + SECTION_GAP;
  }

  // The shared time axis: bare numbers on the ticks, the unit named once under them.
  const axisTop = y - SECTION_GAP + 6;
  const unit = axisUnit(horizon, options.timeUnit);
  const step = tickStep(horizon, Math.max(2, Math.min(10, Math.floor(plotWidth / 60))));
  body.push(`<line class="axis" x1="${plotLeft}" y1="${px(axisTop)}" x2="${px(plotLeft + plotWidth)}" y2="${px(axisTop)}"/>`);
  for (let k = 0; k * step <= horizon + step * 1e-9; k++) {
    const x = plotLeft + k * step * scale;
    body.push(`<line class="axis" x1="${px(x)}" y1="${px(axisTop)}" x2="${px(x)}" y2="${px(axisTop + 5)}"/>`);
    body.push(`<text class="tick" x="${px(x)}" y="${px(axisTop + 17)}">${escapeXml(axisTickLabel(k * step, unit))}</text>`);
  }
  body.push(`<text class="axis-title" x="${px(plotLeft + plotWidth / 2)}" y="${px(axisTop + 33)}">time (${escapeXml(unit.name)})</text>`);
  const height = axisTop + AXIS_HEIGHT + MARGIN;
  const zoom = options.scale ?? 1;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${px(width * zoom)}" height="${px(height * zoom)}" viewBox="0 0 ${px(width)} ${px(height)}" font-family="Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif">`,
    '<defs><pattern id="idle" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d0d0d0" stroke-width="2"/></pattern></defs>',
    '<style>rect{stroke:none}.title{font-size:13px;font-weight:bold;fill:#222}.device{font-size:11px;fill:#333;text-anchor:end}.stats{font-size:11px;fill:#333}.mb,.stage{text-anchor:middle}.tick{font-size:10px;fill:#444;text-anchor:middle}.axis-title{font-size:11px;fill:#333;text-anchor:middle}.legend{font-size:11px;fill:#333}.axis{stroke:#444;stroke-width:1}.idle{fill:url(#idle)}.transfer{fill:#555555}.box{stroke:#fff;stroke-width:0.6}.copy1{stroke:#222;stroke-width:1.5}</style>',
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    ...legend.elements,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
