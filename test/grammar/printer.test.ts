import { describe, expect, it } from 'vitest';
import type * as ast from '../../grammar/ast.ts';
import { parse, printDocument, printExpression } from '../../grammar/index.ts';
import { parseClean, samplePrograms, testPrograms, withoutSpans, type ProgramFile } from './helpers.ts';

function checkRoundTrip(program: ProgramFile): void {
  const first = parse({ name: program.name, text: program.text });
  // A file with syntax errors is not the printer's business (pipec fmt refuses it).
  expect(first.diagnostics.map((d) => d.message)).toEqual([]);
  for (const text of [program.text, undefined]) {
    const printed = printDocument(first.document, { text });
    const second = parse({ name: program.name, text: printed });
    expect(second.diagnostics.map((d) => d.message)).toEqual([]);
    expect(withoutSpans(second.document)).toEqual(withoutSpans(first.document));
    expect(printDocument(second.document, { text: text === undefined ? undefined : printed })).toBe(printed);
  }
}

describe('printer round trip and idempotence', () => {
  const programs = [...testPrograms(), ...samplePrograms()];
  it('has programs to check', () => {
    expect(testPrograms().length).toBeGreaterThanOrEqual(4);
  });
  for (const program of programs) {
    it(program.name, () => checkRoundTrip(program));
  }
});

describe('canonical layout', () => {
  it('puts one member per line with canonical spacing', () => {
    const text = [
      'import   "std:schedules"',
      'model   m{dim batch;input x:f32[ batch,784 ]',
      'layer h[ i ]=Dense( units:3 ,activation:relu )  loss ce(h,y)}',
      'pipeline p { model m  cluster c  batch 64  microbatches 8 stages placement v{a=x,y[0..2] b=z} recompute a,b }',
      'schedule s(p,m,v=2){on device d{let w=min(p-d-1,m) for i in 0..m-w{F[i+w];B[i]} if d==0{W[0]}else{I[ 0 ,1 ]}}',
      'limit activations<=2*p per device priority B[1]>F}',
    ].join('\n');
    expect(printDocument(parseClean(text), { text })).toBe(
      [
        'import "std:schedules"',
        '',
        'model m {',
        '  dim batch',
        '  input x: f32[batch, 784]',
        '  layer h[i] = Dense(units: 3, activation: relu)',
        '  loss ce(h, y)',
        '}',
        '',
        'pipeline p {',
        '  model m',
        '  cluster c',
        '  batch 64 microbatches 8',
        '  stages placement v {',
        '    a = x, y[0..2]',
        '    b = z',
        '  }',
        '  recompute a, b',
        '}',
        '',
        'schedule s(p, m, v = 2) {',
        '  on device d {',
        '    let w = min(p - d - 1, m)',
        '    for i in 0..m-w { F[i+w]; B[i] }',
        '    if d == 0 { W[0] } else { I[0, 1] }',
        '  }',
        '  limit activations <= 2 * p per device',
        '  priority B[1] > F',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('keeps every comment, in order, and the blank lines between members', () => {
    const program = testPrograms().find((p) => p.name.endsWith('comments.pipe'))!;
    const document = parseClean(program.text);
    const printed = printDocument(document, { text: program.text });
    const original = document.comments.map((c) => c.text);
    expect(original.length).toBeGreaterThanOrEqual(8);
    expect(parseClean(printed).comments.map((c) => c.text)).toEqual(original);
    expect(printed).toContain('import "std:schedules" // the built-in library\n');
    expect(printed).toContain('  dim batch // symbolic\n\n  input x');
    expect(printed).toContain('model tiny { // opening\n');
    // The file's header comment keeps the blank line after it.
    expect(printDocument(parseClean('// header\n\nmodel m {}\n'), { text: '// header\n\nmodel m {}\n' })).toBe('// header\n\nmodel m {}\n');
    expect(printed.endsWith('// trailing comment at the end of the file\n')).toBe(true);
  });

  it('breaks long stage and attribute lists after commas, within 100 columns', () => {
    const layers = Array.from({ length: 40 }, (_, k) => `layer_${k}`);
    const text = `pipeline p { stages { s0 on gpu[0] = ${layers.join(', ')} } recompute ${layers.join(', ')} }`;
    const document = parseClean(text);
    const printed = printDocument(document, { text });
    const lines = printed.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(lines[2].startsWith('    s0 on gpu[0] = layer_0, layer_1,')).toBe(true);
    expect(lines[3].startsWith('        layer_')).toBe(true);
    expect(withoutSpans(parseClean(printed))).toEqual(withoutSpans(document));
    expect(printDocument(parseClean(printed), { text: printed })).toBe(printed);
  });

  it('escapes strings so they read back the same', () => {
    const text = 'import "tab\\there \\"quoted\\" back\\\\slash \\u{1}"';
    const document = parseClean(text);
    expect(document.imports[0].path.value).toBe('tab\there "quoted" back\\slash \u0001');
    const printed = printDocument(document);
    expect(printed).toBe('import "tab\\there \\"quoted\\" back\\\\slash \\u{1}"\n');
    expect(parseClean(printed).imports[0].path.value).toBe(document.imports[0].path.value);
  });

  it('adds the parentheses a hand-built tree needs', () => {
    const span = { file: 'x', start: 0, end: 0 };
    const name = (n: string): ast.NameExpression => ({ kind: 'NameExpression', name: { kind: 'Identifier', name: n, span }, span });
    const sum: ast.BinaryExpression = { kind: 'BinaryExpression', operator: '+', left: name('a'), right: name('b'), span };
    const product: ast.BinaryExpression = { kind: 'BinaryExpression', operator: '*', left: sum, right: name('c'), span };
    const difference: ast.BinaryExpression = { kind: 'BinaryExpression', operator: '-', left: name('x'), right: sum, span };
    expect(printExpression(product)).toBe('(a + b) * c');
    expect(printExpression(difference)).toBe('x - (a + b)');
    expect(printExpression({ kind: 'UnaryExpression', operator: '-', operand: sum, span })).toBe('-(a + b)');
  });
});
