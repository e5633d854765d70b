// The automatic scheduler against zero-bubble's own heuristic, on the grid of
// issue 5: p ∈ {4, 8}, m ∈ {8, 16, 24}, (F, I, W) = (1, 1, 1) and
// (1, 1.1, 0.8), communication 0 and 0.5, limits p, 1.5p and 2p activations
// per device. For each case: pipec's makespan, the reference heuristic's
// (test/autoschedule/reference/zeroBubbleHeuristic.ts, its order timed by
// the same evaluator), the lower bound m·(F+I+W), the fill bound (a device
// cannot start before the first forward reaches it), the gap to each, and
// the time pipec took. Then the exact search (compiler/autoschedule/exact.ts,
// the budget of `pipec schedule auto --exact`) from pipec's order: the
// proven optimum, or "unproven" with the best lower bound it reached, and
// the gap of pipec's and zero-bubble's heuristic to it.
//   node bench/autoschedule.ts [--json]

import { performance } from 'node:perf_hooks';
import { autoScheduleWithReport, exactIncumbent, exactProblemTables, solveExactly } from '../compiler/index.ts';
import { gridCases, problemOf, referenceMakespan } from '../test/autoschedule/reference/grid.ts';

const asJson = process.argv.includes('--json');
const rows: Record<string, number | string | boolean | null>[] = [];
for (const gridCase of gridCases()) {
  const problem = problemOf(gridCase);
  const started = performance.now();
  const report = autoScheduleWithReport(problem);
  const ms = performance.now() - started;
  const reference = referenceMakespan(problem);
  const tables = exactProblemTables(problem);
  const exact = solveExactly(tables, { incumbent: exactIncumbent(tables, report.schedule) });
  // Proven: the gap to the optimum; unproven: at most the gap to the bound.
  const gapTo = (makespan: number | undefined) =>
    makespan === undefined ? null : exact.proven ? round(makespan - exact.makespan) : `≤ ${round(makespan - exact.lowerBound)}`;
  rows.push({
    p: gridCase.devices,
    m: gridCase.microbatches,
    costs: `${gridCase.forward}/${gridCase.backwardInput}/${gridCase.backwardWeight}`,
    comm: gridCase.comm,
    limit: gridCase.limit,
    pipec: round(report.makespan),
    reference: reference === undefined ? null : round(reference),
    lowerBound: round(report.lowerBound),
    fillBound: round(report.fillBound),
    gapToBound: `${((report.makespan / report.lowerBound - 1) * 100).toFixed(1)}%`,
    gapToFill: `${((report.makespan / report.fillBound - 1) * 100).toFixed(1)}%`,
    verdict: reference === undefined ? 'reference fails' : report.makespan < reference - 1e-9 ? 'better' : report.makespan > reference + 1e-9 ? 'WORSE' : 'equal',
    ms: Math.round(ms),
    exact: exact.proven ? round(exact.makespan) : `unproven, bound ${round(exact.lowerBound)}`,
    proven: exact.proven,
    pipecGap: gapTo(report.makespan),
    referenceGap: gapTo(reference),
    exactNodes: exact.nodes,
    exactMs: exact.ms,
  });
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

if (asJson) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const header = Object.keys(rows[0]);
  const table = [header, ...rows.map((row) => header.map((key) => String(row[key] ?? '-')))];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) console.log(row.map((cell, c) => cell.padStart(widths[c])).join('  '));
  const count = (verdict: string) => rows.filter((row) => row.verdict === verdict).length;
  console.log(`\n${rows.length} cases: better ${count('better')}, equal ${count('equal')}, worse ${count('WORSE')}, reference fails ${count('reference fails')}; slowest ${Math.max(...rows.map((r) => Number(r.ms)))} ms`);
  const proven = rows.filter((row) => row.proven === true);
  const atOptimum = (key: string) => proven.filter((row) => row[key] === 0).length;
  console.log(
    `exact: ${proven.length} of ${rows.length} proven (slowest proof ${Math.max(0, ...proven.map((r) => Number(r.exactMs)))} ms); ` +
      `at the optimum: pipec ${atOptimum('pipecGap')}, zero-bubble ${atOptimum('referenceGap')} of ${proven.length}`,
  );
}
