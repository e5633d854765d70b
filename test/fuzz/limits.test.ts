// The stated limits (docs/language.md, Limits) hold where a golden case
// cannot show them: inputs too large to keep as files, other entry points
// (PyTorch CSVs, costs files, bare schedules) and the renderer.

import { describe, expect, it } from 'vitest';
import { compileBareSchedule, compileFile, compileTorchCsv, createMemoryHost, parse } from '../../compiler/index.ts';
import { renderDiagnostics } from '../../grammar/index.ts';
import { readFileSync } from 'node:fs';
import { REPOSITORY_ROOT } from './harness.ts';

const mlp = readFileSync(`${REPOSITORY_ROOT}samples/mlp.pipe`, 'utf8');

describe('limits', () => {
  it('a source over 1 MiB is refused before it is lexed, at the first character past the limit', () => {
    const text = `${mlp}\n// ${'x'.repeat(1_100_000)}\n`;
    const { diagnostics } = parse({ name: 'big.pipe', text });
    expect(diagnostics.map((d) => d.code)).toEqual(['PIPE1201']);
    expect(diagnostics[0].span.start).toBe(1_048_576);
  });

  it('an operator chain deeper than the expression limit is one located diagnostic, not a stack overflow', () => {
    const text = mlp.replace('Dense(units: 256', `Dense(units: ${Array.from({ length: 100_000 }, () => '1').join(' + ')}`);
    const { diagnostics } = parse({ name: 'chain.pipe', text });
    expect(diagnostics.map((d) => d.code)).toEqual(['PIPE1200']);
    expect(text.slice(diagnostics[0].span.start, diagnostics[0].span.start + 5)).toBe('1 + 1');
  });

  it('a one-line 64 KB file prints a frame of a few hundred characters', () => {
    const text = `model m { layer a = Dense(units: 4) ${'x '.repeat(32_768)}}`;
    const compilation = compileFile('line.pipe', createMemoryHost({ 'line.pipe': text }), { until: 'check' });
    const rendered = renderDiagnostics(compilation.diagnostics, compilation.sources, { color: false, format: 'text' });
    expect(compilation.diagnostics.length).toBeGreaterThan(0);
    expect(rendered.length).toBeLessThan(2_000);
    expect(rendered).toContain('^');
  });

  it('PyTorch CSVs with huge indices or many cells are diagnostics, not crashes', () => {
    for (const text of ['130000F0\n', '4294967296F0\n', '0F0,100000000F0\n', `${Array.from({ length: 130_000 }, (_, i) => `${i}F0`).join(',')}\n`]) {
      const compilation = compileTorchCsv(text, 'order.csv');
      const codes = compilation.diagnostics.map((d) => d.code);
      expect(codes.some((code) => code === 'PIPE4201' || code === 'PIPE4200' || code.startsWith('PIPE40')), text.slice(0, 20)).toBe(true);
    }
  });

  it('a costs file nested 5,000 deep is refused before it is parsed', () => {
    const compilation = compileFile('samples/mlp.pipe', createMemoryHost({ 'samples/mlp.pipe': mlp }), {
      costs: { kind: 'measured', file: 'costs.json', text: `${'['.repeat(5_000)}${']'.repeat(5_000)}` },
    });
    expect(compilation.diagnostics.map((d) => d.code)).toEqual(['PIPE5201']);
  });

  it('a bare schedule beyond the device, microbatch or action limits is a usage error', () => {
    expect(compileBareSchedule({ name: '1f1b', devices: 100_000, microbatches: 100_000 }).stop?.message).toMatch(/at most 4096/);
    expect(compileBareSchedule({ name: '1f1b', devices: 4, microbatches: 10_000_000 }).stop?.message).toMatch(/at most 65536/);
    expect(compileBareSchedule({ name: 'zb_h1', devices: 4096, microbatches: 1_000 }).stop?.message).toMatch(/at most 1000000/);
  });
});
