// Rendering: `file:line:col: severity CODE: message`, a code frame with the
// span underlined (babel's 1-based, end-exclusive columns), hint and related
// locations; JSON with 1-based line/column; stable order.

import { describe, expect, test } from 'vitest';
import { makeDiagnostic } from '../../grammar/diagnostic.ts';
import { renderDiagnostics, summarizeDiagnostics, toJsonDiagnostics } from '../../cli/render.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

const text = 'model m {\n  layer a = Dence(units: 4)\n}\n';
const sources = new Map([['m.pipe', text]]);
const start = text.indexOf('Dence');
const diagnostic = makeDiagnostic(diagnosticMessages.unknownOperator, { file: 'm.pipe', start, end: start + 5 }, { name: 'Dence' }, {
  hint: "did you mean 'Dense'?",
  related: [{ span: { file: 'm.pipe', start: 6, end: 7 }, message: 'in this model' }],
});

describe('renderDiagnostics', () => {
  test('text: location, code, message, frame with carets under the span, hint, related', () => {
    expect(renderDiagnostics([diagnostic], sources, { color: false, format: 'text' })).toBe([
      "m.pipe:2:13: error PIPE2003: unknown layer type 'Dence'",
      '    1 | model m {',
      '  > 2 |   layer a = Dence(units: 4)',
      '      |             ^^^^^',
      '    3 | }',
      "  hint: did you mean 'Dense'?",
      '  m.pipe:1:7: in this model',
      '',
    ].join('\n'));
  });

  test('frames only .pipe source, the standard library and PyTorch CSVs: other files keep their location, not their text', () => {
    const secret = 'root:x:0:0:root:/root:/bin/bash\n';
    for (const file of ['/etc/passwd', 'costs.json', 'layers/swiglu.ts', 'program.txt']) {
      const elsewhere = makeDiagnostic(diagnosticMessages.unknownOperator, { file, start: 0, end: 4 }, { name: 'x' });
      const rendered = renderDiagnostics([elsewhere], new Map([[file, secret]]), { color: false, format: 'text' });
      expect(rendered).toBe(`${file}:1:1: error PIPE2003: unknown layer type 'x'\n`);
    }
    for (const file of ['order.csv', 'std:schedules', 'M.PIPE']) {
      const framed = makeDiagnostic(diagnosticMessages.unknownOperator, { file, start: 0, end: 4 }, { name: 'x' });
      expect(renderDiagnostics([framed], new Map([[file, secret]]), { color: false, format: 'text' })).toContain('> 1 | root:x');
    }
  });

  test('json: 1-based positions for tools', () => {
    expect(toJsonDiagnostics([diagnostic], sources)).toEqual([{
      file: 'm.pipe', line: 2, column: 13, endLine: 2, endColumn: 18,
      code: 'PIPE2003', severity: 'error', message: "unknown layer type 'Dence'", hint: "did you mean 'Dense'?",
      related: [{ file: 'm.pipe', line: 1, column: 7, endLine: 1, endColumn: 8, message: 'in this model' }],
    }]);
    expect(JSON.parse(renderDiagnostics([diagnostic], sources, { color: false, format: 'json' }))[0].code).toBe('PIPE2003');
  });

  test('colour only when asked', () => {
    expect(renderDiagnostics([diagnostic], sources, { color: true, format: 'text' })).toContain('\u001b[');
    expect(renderDiagnostics([diagnostic], sources, { color: false, format: 'text' })).not.toContain('\u001b[');
  });

  test('diagnostics are sorted by position; a span over a whole block marks its first line only', () => {
    const block = makeDiagnostic(diagnosticMessages.incompleteModel, { file: 'm.pipe', start: 0, end: text.length }, { name: 'm', what: 'loss' });
    const rendered = renderDiagnostics([diagnostic, block], sources, { color: false, format: 'text' });
    expect(rendered.indexOf('PIPE2018')).toBeLessThan(rendered.indexOf('PIPE2003'));
    expect(rendered).toContain('  > 1 | model m {\n      | ^^^^^^^^^');
  });

  test('a span in a file without source text still renders its location', () => {
    const lost = makeDiagnostic(diagnosticMessages.importNotFound, { file: 'gone.pipe', start: 0, end: 0 }, { path: 'gone.pipe' });
    expect(renderDiagnostics([lost], new Map(), { color: false, format: 'text' })).toBe("gone.pipe:1:1: error PIPE2019: cannot find the imported file 'gone.pipe'\n");
  });

  test('summary counts errors and warnings', () => {
    expect(summarizeDiagnostics([diagnostic, diagnostic])).toBe('2 errors');
    expect(summarizeDiagnostics([])).toBeUndefined();
  });
});
