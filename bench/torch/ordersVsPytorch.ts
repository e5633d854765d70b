// pipec's built-in schedules against PyTorch's own orders of the same family,
// on every setting PyTorch accepts: unit costs (F = I = W = 1, B = 2, no
// communication time), makespan and peak live activations per rank.
//
// PyTorch builds the orders (bench/torch/torch_orders.py, in the venv made by
// scripts/torch-venv.sh); pipec imports them with its CSV importer and times
// both with the same unit timing. Used by `npm run test:torch`
// (test/torch/orders.test.ts) and as a table for docs/schedules.md:
//
//   node bench/torch/ordersVsPytorch.ts [--ranks 2-16] [--markdown]

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  builtinSchedule, importTorchCsv, peakLiveActivations, timeSchedule, validateSchedule,
} from '../../compiler/index.ts';
import { formatTemplate } from '../../grammar/index.ts';

/** PyTorch's class → pipec's family of the same rule. */
export const TORCH_FAMILIES: Readonly<Record<string, { readonly family: string; readonly stagesPerDevice: number }>> = {
  ScheduleGPipe: { family: 'gpipe', stagesPerDevice: 1 },
  Schedule1F1B: { family: '1f1b', stagesPerDevice: 1 },
  ScheduleInterleaved1F1B: { family: 'interleaved_1f1b', stagesPerDevice: 2 },
  ScheduleLoopedBFS: { family: 'looped_bfs', stagesPerDevice: 2 },
  ScheduleInterleavedZeroBubble: { family: 'interleaved_zb', stagesPerDevice: 2 },
  ScheduleZBVZeroBubble: { family: 'zb_v', stagesPerDevice: 2 },
  ScheduleDualPipeV: { family: 'dualpipe_v', stagesPerDevice: 2 },
};

export interface TorchOrder {
  readonly schedule: string;
  readonly p: number;
  readonly m: number;
  readonly v: number;
  readonly rows?: readonly (readonly string[])[];
  readonly refused?: string;
}

export interface OrderComparison {
  readonly torchClass: string;
  readonly family: string;
  readonly p: number;
  readonly m: number;
  readonly v: number;
  /** PyTorch's own refusal of the setting; nothing is compared then. */
  readonly refused?: string;
  /** Why PyTorch's order is not a valid schedule (it happens: 1F1B). */
  readonly torchInvalid?: string;
  readonly torchMakespan?: number;
  readonly torchPeaks?: readonly number[];
  readonly pipecMakespan?: number;
  readonly pipecPeaks?: readonly number[];
  readonly pipecProblem?: string;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

export function torchPython(): string | undefined {
  const python = `${repo}.venv-torch/bin/python`;
  return existsSync(python) ? python : undefined;
}

/**
 * Runs PyTorch's schedule classes over the grid m ∈ p..4p for p in ranks, in
 * one Python process (importing torch is most of the time).
 */
export function torchOrders(python: string, classes: readonly string[], ranks: readonly [number, number], stagesPerDevice = 2): TorchOrder[] {
  const out = execFileSync(python, [`${here}torch_orders.py`, '--grid', classes.join(','), '--ranks', `${ranks[0]}-${ranks[1]}`, '--v', String(stagesPerDevice)], {
    encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as TorchOrder);
}

export function compareOrder(order: TorchOrder): OrderComparison {
  const { family } = TORCH_FAMILIES[order.schedule];
  const base = { torchClass: order.schedule, family, p: order.p, m: order.m, v: order.v };
  if (order.refused !== undefined || order.rows === undefined) return { ...base, refused: order.refused ?? 'no order' };
  const text = order.rows.map((row) => row.join(',')).join('\n');
  const file = `${order.schedule}_p${order.p}_m${order.m}_v${order.v}.csv`;
  const imported = importTorchCsv(text, file, { microbatches: order.m });
  const torch = imported.schedule;
  const torchProblems = torch === undefined ? [] : validateSchedule(torch);
  if (torch === undefined || imported.diagnostics.length > 0 || torchProblems.length > 0) {
    const problem = torchProblems[0];
    const reason = imported.diagnostics[0]?.message ?? (problem ? formatTemplate(problem.message.template, problem.args) : 'not importable');
    return { ...base, torchInvalid: reason };
  }
  const torchMakespan = timeSchedule(torch).makespan;
  const torchPeaks = peakLiveActivations(torch);
  const ours = builtinSchedule(family, { devices: order.p, microbatches: order.m, stagesPerDevice: order.v });
  if (ours.schedule === undefined) {
    return { ...base, torchMakespan, torchPeaks, pipecProblem: ours.diagnostics.map((d) => d.message).join('; ') };
  }
  const problems = validateSchedule(ours.schedule);
  if (problems.length > 0) return { ...base, torchMakespan, torchPeaks, pipecProblem: formatTemplate(problems[0].message.template, problems[0].args) };
  return {
    ...base, torchMakespan, torchPeaks,
    pipecMakespan: timeSchedule(ours.schedule).makespan,
    pipecPeaks: peakLiveActivations(ours.schedule),
  };
}

/** pipec is behind on this setting: slower, or holding more on some rank. */
export function pipecBehind(comparison: OrderComparison): boolean {
  if (comparison.pipecProblem !== undefined) return true;
  if (comparison.pipecMakespan === undefined || comparison.torchMakespan === undefined) return false;
  if (comparison.pipecMakespan > comparison.torchMakespan) return true;
  return comparison.pipecPeaks!.some((peak, rank) => peak > comparison.torchPeaks![rank]);
}

interface FamilySummary {
  torchClass: string; family: string; settings: number; refused: number; torchInvalid: number;
  faster: number; equal: number; behind: number; bestGain: number; worstGap: number;
}

export function summarise(comparisons: readonly OrderComparison[]): FamilySummary[] {
  const byClass = new Map<string, FamilySummary>();
  for (const c of comparisons) {
    const row = byClass.get(c.torchClass) ?? {
      torchClass: c.torchClass, family: c.family, settings: 0, refused: 0, torchInvalid: 0, faster: 0, equal: 0, behind: 0, bestGain: 0, worstGap: 0,
    };
    byClass.set(c.torchClass, row);
    row.settings++;
    if (c.refused !== undefined) { row.refused++; continue; }
    if (c.torchInvalid !== undefined) { row.torchInvalid++; continue; }
    if (pipecBehind(c)) row.behind++;
    else if (c.pipecMakespan! < c.torchMakespan!) row.faster++;
    else row.equal++;
    if (c.pipecMakespan !== undefined) {
      row.bestGain = Math.max(row.bestGain, c.torchMakespan! - c.pipecMakespan);
      row.worstGap = Math.max(row.worstGap, c.pipecMakespan - c.torchMakespan!);
    }
  }
  return [...byClass.values()];
}

function main(argv: readonly string[]): number {
  const rankArg = argv[argv.indexOf('--ranks') + 1];
  const [low, high] = (argv.includes('--ranks') ? rankArg : '2-16').split('-').map(Number);
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : Object.keys(TORCH_FAMILIES);
  const python = torchPython();
  if (python === undefined) {
    console.log('skipped: no .venv-torch (run `bash scripts/torch-venv.sh`)');
    return 0;
  }
  const comparisons = torchOrders(python, only, [low, high ?? low]).map(compareOrder);
  for (const c of comparisons) {
    if (pipecBehind(c)) {
      console.log(`behind: ${c.torchClass} p=${c.p} m=${c.m} v=${c.v} torch ${c.torchMakespan} [${c.torchPeaks}] pipec ${c.pipecMakespan ?? c.pipecProblem} [${c.pipecPeaks ?? ''}]`);
    }
  }
  const rows = summarise(comparisons);
  if (argv.includes('--markdown')) {
    console.log('| PyTorch class | pipec family | settings | PyTorch refuses | PyTorch order invalid | pipec faster | equal | pipec behind | largest gain |');
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.torchClass} | \`${r.family}\` | ${r.settings} | ${r.refused} | ${r.torchInvalid} | ${r.faster} | ${r.equal} | ${r.behind} | ${r.bestGain} |`);
  } else {
    console.table(rows);
  }
  return rows.some((r) => r.behind > 0) ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
