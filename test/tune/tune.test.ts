// tune's memory knobs: each fixture fits its devices only when one knob is
// turned, and tune must find that knob; when nothing fits, the near miss it
// reports is what the memory check and the simulator say, and every fix it
// offers compiles and fits. Expectations come from compiling the programs,
// never from numbers copied out of tune's output.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compileFile, compiledDocument, createMemoryHost, simulateCompilation, tune, withStages,
  type Compilation, type TuneKnobs, type TuneRequest, type TunedConfiguration,
} from '../../compiler/index.ts';
import { printDocument } from '../../grammar/index.ts';
import { checkOnDisk } from '../helpers/compileFiles.ts';

const fixture = (name: string) => path.join('test', 'tune', 'fixtures', name);

/** The program as `pipec tune` checks it: its own auto split may overflow (tune replaces it). */
function tuneBase(file: string): Compilation {
  const base = checkOnDisk(file, { autoStagesMemory: 'check-later' });
  expect(base.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return base;
}

function tuned(file: string, knobs: TuneKnobs, limits: Partial<TuneRequest> = {}) {
  return tune({ base: tuneBase(file), knobs, ...limits });
}

/** The written program compiled afresh (as a user would) and simulated: every device's peak against its capacity. */
function simulatedPeaks(text: string): { peak: number; capacity: number }[] {
  const compiled = compileFile('best.pipe', createMemoryHost({ 'best.pipe': text }));
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const simulated = simulateCompilation(compiled, { detail: false })!;
  return simulated.result.devices.map((device, d) => ({ peak: device.memory.peak, capacity: compiled.ir!.devices[d].memory.capacity }));
}

function expectFits(text: string): void {
  for (const { peak, capacity } of simulatedPeaks(text)) expect(peak).toBeLessThanOrEqual(capacity);
}

describe('tune turns the memory knob a program needs', () => {
  it('recompute: nothing fits without it, and tune picks it', () => {
    const file = fixture('recompute_only.pipe');
    const without = tuned(file, { recompute: false, replicas: false });
    expect(without.ranked).toEqual([]);
    expect(without.diagnostics.map((d) => d.code)).toEqual(['PIPE5420']);

    const result = tuned(file, { replicas: false });
    const best = result.ranked[0];
    expect(best.recompute.length).toBeGreaterThan(0);
    expect(best.offload).toEqual([]);
    expect(best.peakFraction).toBeLessThanOrEqual(1);
    const text = printDocument(best.document);
    expect(text).toMatch(/\n {2}recompute s\d/);
    expectFits(text);
  });

  it('offload: nothing fits without it (recompute keeps too much), and tune picks it', () => {
    const file = fixture('offload_only.pipe');
    const without = tuned(file, { offload: false, replicas: false });
    expect(without.ranked).toEqual([]);
    // Recompute alone was tried and is not enough.
    expect(without.rejected.some((r) => r.recompute.length > 0 && r.memory !== undefined)).toBe(true);

    const result = tuned(file, { replicas: false });
    const best = result.ranked[0];
    expect(best.offload.length).toBeGreaterThan(0);
    expect(printDocument(best.document)).toMatch(/\n {2}offload s\d/);
    expectFits(printDocument(best.document));
  });

  it('replicas: two replicas of 2 stages overflow; tune finds one replica of a deeper pipeline', () => {
    const file = fixture('deeper_pipeline.pipe');
    const limits = { maxStagesPerDevice: 1, schedules: ['1f1b', 'zb_h1'] };
    const kept = tuned(file, { replicas: false }, limits);
    expect(kept.ranked).toEqual([]);
    // The near miss names the factorisation that fits, and it does.
    const fix = kept.nearMiss!.fixes.find((f) => f.knobs.includes('replicas'))!;
    expect(fix.change).toBe('replicas 1 × pipeline 4');

    const result = tuned(file, {}, limits);
    const best = result.ranked[0];
    expect(best.replicas).toBe(1);
    expect(best.stages).toBe(4);
    // The global batch is kept: one replica trains all 2 × 64 examples.
    expect(best.batch).toBe(128);
    expect(printDocument(best.document)).toContain('replicas 1');
    expectFits(printDocument(best.document));
  });

  it('precision only when asked for: bf16 then fits where fp32 does not', () => {
    const file = fixture('recompute_only.pipe');
    const fp32 = tuned(file, { recompute: false, replicas: false });
    expect(fp32.rejected.every((r) => r.precision === 'fp32')).toBe(true);
    const mixed = tuned(file, { recompute: false, replicas: false, precision: true });
    const best = mixed.ranked[0];
    expect(best.precision).toBe('bf16');
    expect(printDocument(best.document)).toContain('precision bf16');
    expectFits(printDocument(best.document));
  });

  it('keeps a configuration that fits as it is: recompute and offload are only tried where memory overflows', () => {
    const result = tuned('test/simulate/fixtures/deep_mlp.pipe', {}, { maxStagesPerDevice: 1, schedules: ['1f1b'] });
    expect(result.ranked.length).toBeGreaterThan(0);
    expect(result.ranked.every((candidate) => candidate.recompute.length === 0 && candidate.offload.length === 0)).toBe(true);
    // Every data-parallel × pipeline split of the 4 devices was tried.
    expect(new Set(result.ranked.map((candidate) => `${candidate.replicas}×${candidate.stages}`))).toEqual(new Set(['1×4', '2×2', '4×1']));
  });
});

describe('when nothing fits', () => {
  const file = fixture('nothing_fits.pipe');
  const source = readFileSync(file, 'utf8');
  const base = tuneBase(file);
  const result = tune({ base, maxStagesPerDevice: 1, schedules: ['1f1b', 'zb_h1'] });
  const nearMiss = result.nearMiss!;

  it('reports PIPE5420 at the memory declaration of the device furthest over', () => {
    expect(result.ranked).toEqual([]);
    const [diagnostic] = result.diagnostics;
    expect(diagnostic.code).toBe('PIPE5420');
    expect(source.slice(diagnostic.span.start, diagnostic.span.end)).toBe('memory 24MiB');
    expect(diagnostic.message).toContain(`${nearMiss.closest.memory.deviceName} (`);
    expect(diagnostic.hint).not.toMatch(/[{}]/);
  });

  it("the closest miss's peak is the memory check's peak for that configuration", () => {
    const { closest } = nearMiss;
    const capacity = base.program!.cluster.devices[closest.memory.device].memoryBytes;
    expect(closest.memory.capacity).toBe(capacity);
    expect(closest.memory.peakMemory).toBeGreaterThan(capacity);
    const split = withStages(base, closest, { autoStagesMemory: 'check-later' });
    const device = split.ir!.devices.find((d) => d.index === closest.memory.device)!;
    expect(device.memory.peak).toBe(closest.memory.peakMemory);
    // No tried configuration comes closer.
    for (const rejection of result.rejected) if (rejection.memory) expect(rejection.memory.peakFraction).toBeGreaterThanOrEqual(closest.memory.peakFraction);
  });

  it('every fix it offers compiles and fits; the smallest memory it names is enough and the capacity was too little', () => {
    expect(nearMiss.fixes.length).toBeGreaterThan(0);
    for (const fix of nearMiss.fixes) {
      const floor = fix.knobs.includes('memory') ? fix.capacity : undefined;
      const compiled = withStages(base, fix.configuration, { memoryFloor: floor, autoStagesMemory: 'fit' });
      expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const simulated = simulateCompilation(compiled, { detail: false })!;
      const peak = Math.max(...simulated.result.devices.map((d) => d.memory.peak));
      expect(peak).toBe(fix.peakMemory);
      expect(peak).toBeLessThanOrEqual(fix.capacity);
      // The program the fix describes, printed and compiled as a user would (a split written out included), is the one measured.
      const printed = printDocument(compiledDocument(compiled)!);
      const again = compileFile('fix.pipe', createMemoryHost({ 'fix.pipe': printed }));
      expect(again.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(simulateCompilation(again, { detail: false })!.result.makespan).toBe(simulated.result.makespan);
    }
    const smallest = nearMiss.smallestMemory!;
    const capacity = nearMiss.closest.memory.capacity;
    expect(smallest.bytes).toBeGreaterThan(capacity);
    // The same configuration on the program's own devices does not fit.
    const own = withStages(base, smallest.configuration as TunedConfiguration, { autoStagesMemory: 'check-later' });
    expect(Math.max(...own.ir!.devices.map((d) => d.memory.peak))).toBeGreaterThan(capacity);
    expect(result.diagnostics[0].hint).toContain('devices with');
  });
});

describe('frozen stages', () => {
  it('refuses a frozen stage attribute at its line, which another split could not keep, and keeps frozen layers', () => {
    // zb_h2: a rule schedule, which plans a frozen prefix forward only
    const text = readFileSync('samples/mlp.pipe', 'utf8').replace(/\n\s*schedule 1f1b\n/, '\n  schedule zb_h2\n  frozen s0\n');
    expect(text).toContain('frozen s0');
    const base = compileFile('frozen.pipe', createMemoryHost({ 'frozen.pipe': text }));
    expect(base.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const result = tune({ base });
    expect(result.ranked).toEqual([]);
    expect(result.diagnostics.map((d) => d.code)).toEqual(['PIPE5421']);
    const span = result.diagnostics[0].span!;
    expect(text.slice(span.start, span.end)).toBe('frozen s0');
    // A frozen layer names no stage, so tune searches as usual.
    const frozenLayer = readFileSync('samples/frozen_encoder.pipe', 'utf8');
    const layerBase = compileFile('encoder.pipe', createMemoryHost({ 'encoder.pipe': frozenLayer }));
    expect(tune({ base: layerBase }).diagnostics.filter((d) => d.code === 'PIPE5421')).toEqual([]);
  });
});
