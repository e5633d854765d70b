// The symbol index editors read (compiler/symbols.ts): every occurrence is
// written where the index says, with the symbol's name, on every sample and
// every golden wrong program; and uses resolve to the declarations a reader
// would point at.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { indexCompilationSymbols, normaliseScheduleName } from '../../compiler/index.ts';
import { CASES_DIRECTORY } from '../../scripts/gen-diagnostics-doc.ts';
import { compileOnDisk } from '../helpers/compileFiles.ts';

const programs = [
  ...readdirSync('samples').filter((file) => file.endsWith('.pipe')).map((file) => path.join('samples', file)),
  ...readdirSync(CASES_DIRECTORY).filter((file) => file.endsWith('.pipe')).map((file) => path.join(CASES_DIRECTORY, file)),
];

function indexOf(file: string) {
  const compilation = compileOnDisk(file, { until: 'parse' });
  return { index: indexCompilationSymbols(compilation), sources: compilation.sources };
}

describe('the symbol index', () => {
  it('puts every occurrence where its name is written, on every sample and wrong program', () => {
    const wrong: string[] = [];
    let occurrences = 0;
    for (const file of programs) {
      const { index, sources } = indexOf(file);
      for (const occurrence of index.occurrences) {
        if (occurrence.symbol.kind === 'file') continue;
        occurrences++;
        const written = sources.get(occurrence.span.file)?.slice(occurrence.span.start, occurrence.span.end);
        const same = occurrence.symbol.kind === 'schedule' ? normaliseScheduleName(written ?? '') === occurrence.symbol.name : written === occurrence.symbol.name;
        if (!same) wrong.push(`${file}: ${occurrence.symbol.key} at ${occurrence.span.start} reads '${written}'`);
      }
    }
    expect(wrong).toEqual([]);
    expect(occurrences).toBeGreaterThan(1000);
  });

  it('resolves a program\'s uses to their declarations', () => {
    const { index, sources } = indexOf('samples/mlp.pipe');
    const text = sources.get('samples/mlp.pipe')!;
    const at = (needle: string, into = 0) => index.occurrenceAt('samples/mlp.pipe', text.indexOf(needle) + into);
    expect(at('= hidden[1]', 3)?.symbol.key).toBe('model:mlp/layer:hidden');
    expect(at('on worker[3]', 4)?.symbol.key).toBe('cluster:local/device:worker');
    expect(at('model mlp\n  cluster', 7)?.symbol.key).toBe('model:mlp');
    const schedule = at('schedule 1f1b', 10)!.symbol;
    expect(schedule).toMatchObject({ kind: 'schedule', name: '1f1b', standardLibrary: true });
    expect(schedule.nameSpan.file).toBe('std:schedules');
    const out = index.definitions.find((definition) => definition.key === 'model:mlp/layer:out')!;
    // Declared, named by the loss and by stage s3.
    expect(index.occurrencesOf(out).map((o) => o.isDefinition)).toEqual([true, false, false]);
  });

  it('counts `vocab_parallel head` as a use of the layer (so rename and references reach it)', () => {
    const { index, sources } = indexOf('samples/gpt_vocab.pipe');
    const text = sources.get('samples/gpt_vocab.pipe')!;
    const use = index.occurrenceAt('samples/gpt_vocab.pipe', text.indexOf('vocab_parallel head') + 'vocab_parallel '.length);
    expect(use?.symbol.key).toBe('model:gpt/layer:head');
    // declared, named by the loss, by stage s3 and by vocab_parallel
    expect(index.occurrencesOf(use!.symbol).map((o) => o.isDefinition)).toEqual([true, false, false, false]);
  });

  it('names a merge\'s skip source as a use of that layer, so a rename reaches it', () => {
    const { index, sources } = indexOf('samples/unet.pipe');
    const text = sources.get('samples/unet.pipe')!;
    const enc0 = index.definitions.find((definition) => definition.key === 'model:unet/layer:enc0')!;
    // Declared, named by join0's skip and by stage s0.
    expect(index.occurrencesOf(enc0).map((o) => [o.isDefinition, text.slice(o.span.start - 6, o.span.end)])).toEqual([
      [true, 'layer enc0'], [false, 'skip: enc0'], [false, '[0] = enc0'],
    ]);
    expect(index.occurrenceAt('samples/unet.pipe', text.indexOf('Concat(skip: enc1)') + 14)?.symbol.key).toBe('model:unet/layer:enc1');
  });

  it('keeps a residual block\'s layers apart from the model\'s and an extern layer\'s uses', () => {
    const { index } = indexOf('samples/swiglu.pipe');
    const keys = index.definitions.map((definition) => definition.key);
    expect(keys).toEqual(expect.arrayContaining(['model:swiglu_mlp/layer:ffn', 'model:swiglu_mlp/layer:ffn.norm', 'model:swiglu_mlp/layer:ffn.glu', 'externLayer:SwiGLU']));
    const extern = index.definitions.find((definition) => definition.key === 'externLayer:SwiGLU')!;
    expect(index.occurrencesOf(extern)).toHaveLength(2);
  });
});
