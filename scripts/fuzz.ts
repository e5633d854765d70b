// The long fuzzing run: `npm run fuzz -- --minutes N [--seed S] [--save] [--train-every K]`.
// Mutants of every seed program (test/fuzz/harness.ts) go through the whole
// compilation and the simulator until the time is up; every tenth-of-a-minute
// it prints programs/s and the count of each kind of finding. A finding of a
// kind not seen before is shrunk by fast-check and, with --save, written to
// test/cases/fuzz/ as a regression case (test/fuzz/regressions.test.ts runs
// them). A sample of the valid mutants is trained for one step on the cpu
// backend (`pipec train --steps 1`, in process).

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import type { IrProgram } from '../compiler/index.ts';
import { run } from '../runtime/index.ts';
import {
  FINDING_KINDS, REPOSITORY_ROOT, examineProgram, findingKey, mutantArbitrary, mutantText, seedPrograms,
  type Finding, type FindingKind, type Mutant,
} from '../test/fuzz/harness.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    seed: { type: 'string' },
    save: { type: 'boolean', default: false },
    'slow-ms': { type: 'string', default: '5000' },
    'train-every': { type: 'string', default: '200' },
  },
});
const minutes = Number(values.minutes);
const slowMs = Number(values['slow-ms']);
const trainEvery = Number(values['train-every']);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

const seeds = seedPrograms();
const arbitrary = mutantArbitrary(seeds);
const counts = Object.fromEntries(FINDING_KINDS.map((kind) => [kind, 0])) as Record<FindingKind, number>;
const seen = new Map<string, { finding: Finding; text: string; file: string }>();
let programs = 0;
let valid = 0;
let trained = 0;
let trainFailures = 0;
let slowestMs = 0;
let slowestPhase = '';
const started = performance.now();
const deadline = started + minutes * 60_000;

/**
 * Small enough to train one step in process within seconds: every device's
 * tensors share this process's memory, so a mutant that fits four 4 GiB
 * devices could still exhaust the machine.
 */
function trainable(ir: IrProgram): boolean {
  const parameters = ir.model.layers.reduce((sum, layer) => sum + layer.parameters, 0);
  return parameters <= 2_000_000 && ir.batch <= 256 && ir.data?.name !== 'chars';
}

function findingsOf(mutant: Mutant): readonly Finding[] {
  const seedProgram = seeds[mutant.seed];
  return examineProgram(seedProgram.file, mutantText(seeds, mutant), { slowMs }).findings;
}

/** The smallest mutant fast-check finds that still shows a finding with this key. */
function shrink(mutant: Mutant, key: string): Mutant {
  const result = fc.check(
    fc.property(arbitrary, (candidate) => !findingsOf(candidate).some((finding) => findingKey(finding) === key)),
    { examples: [[mutant]], numRuns: 0, seed },
  );
  return (result.counterexample?.[0] as Mutant | undefined) ?? mutant;
}

function save(key: string, mutant: Mutant, finding: Finding): string {
  const seedProgram = seeds[mutant.seed];
  const name = `${finding.kind}-${(seen.size + Date.now()).toString(36)}.pipe`;
  const target = path.join(REPOSITORY_ROOT, 'test/cases/fuzz', name);
  // The case keeps its seed's directory in a comment, so imports are rewritten by hand if needed.
  writeFileSync(target, `// fuzz: ${finding.kind}: ${finding.detail.replace(/\n/g, ' ')}\n// from ${seedProgram.file}\n${mutantText(seeds, mutant)}`);
  return name;
}

function report(final: boolean): void {
  const seconds = (performance.now() - started) / 1000;
  const rate = programs / seconds;
  const parts = FINDING_KINDS.map((kind) => `${kind} ${counts[kind]}`).join(', ');
  console.log(`${final ? 'done' : 'running'} ${seconds.toFixed(0)} s · ${programs} programs (${rate.toFixed(1)}/s), ${valid} valid, ${trained} trained (${trainFailures} failed) · ${parts} · slowest phase ${(slowestMs / 1000).toFixed(2)} s (${slowestPhase})`);
}

console.log(`fuzz: ${seeds.length} seed programs, seed ${seed}, ${minutes} min, a phase over ${slowMs} ms is a finding`);
let nextReport = started + 30_000;
let batch = 0;
while (performance.now() < deadline) {
  const mutants = fc.sample(arbitrary, { seed: seed + batch, numRuns: 50 });
  batch++;
  for (const mutant of mutants) {
    if (performance.now() >= deadline) break;
    const seedProgram = seeds[mutant.seed];
    const text = mutantText(seeds, mutant);
    const examined = examineProgram(seedProgram.file, text, { slowMs });
    programs++;
    for (const [phase, ms] of Object.entries(examined.phaseMs)) {
      if (ms > slowestMs) {
        slowestMs = ms;
        slowestPhase = `${phase}, ${seedProgram.file}`;
      }
    }
    if (examined.valid) valid++;
    for (const finding of examined.findings) {
      counts[finding.kind]++;
      const key = findingKey(finding);
      if (seen.has(key)) continue;
      const small = finding.kind === 'slow' ? mutant : shrink(mutant, key);
      seen.set(key, { finding, text: mutantText(seeds, small), file: seedProgram.file });
      const saved = values.save ? ` → test/cases/fuzz/${save(key, small, finding)}` : '';
      console.log(`  new ${finding.kind}: ${finding.detail}${saved}\n    ${seedProgram.file} ${JSON.stringify(small.mutations)}`);
    }
    if (examined.valid && trainEvery > 0 && valid % trainEvery === 1 && examined.compilation?.ir && trainable(examined.compilation.ir)) {
      try {
        // Some seeds are meant to fail at run time (test/fixtures/faults: a layer that never returns), so a
        // stuck layer call must end as a training failure (PIPE6251), not stop the run.
        await run(examined.compilation.ir, { steps: 1, backend: 'cpu', baseDirectory: REPOSITORY_ROOT, evalExamples: 16, opTimeoutMs: 10_000 });
        trained++;
      } catch (error) {
        trained++;
        trainFailures++;
        console.log(`  train --steps 1 failed (${seedProgram.file}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      }
    }
    if (performance.now() > nextReport) {
      report(false);
      nextReport += 30_000;
    }
  }
}
report(true);
