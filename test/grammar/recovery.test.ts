import { describe, expect, it } from 'vitest';
import type * as ast from '../../grammar/ast.ts';
import { messagesInRange, parse } from '../../grammar/index.ts';
import { located } from './helpers.ts';

describe('error recovery', () => {
  it('reports three separate errors in one file, each at its line:col, and keeps the rest', () => {
    const text = [
      'model m {',
      '  dim batch',
      '  layer fc1 (units: 3)', // missing '='
      '  layer fc2 = Dense(units: 4)',
      '}',
      'cluster c {',
      '  device gpu[0..2] memory 16GiB',
      '  link gpu[0] <-> ', // missing the other end
      '}',
      'pipeline p {',
      '  model m',
      '  stages { s0 on gpu[0] = }', // missing layers
      '  schedule 1f1b',
      '}',
    ].join('\n');
    const result = parse({ name: 'bad.pipe', text });
    expect(located(text, result.diagnostics)).toEqual([
      "3:13 PIPE1004 expected '=' after 'fc1', found '('",
      "9:1 PIPE1004 expected a name after '<->', found '}'",
      "12:27 PIPE1004 expected a name after '=', found '}'",
    ]);
    expect(result.diagnostics[0].hint).toBe('a layer declaration looks like: layer NAME = Operator(arg: value, ...)');
    // Everything after each error is still in the tree.
    const [model, cluster, pipeline] = result.document.declarations as [ast.ModelDeclaration, ast.ClusterDeclaration, ast.PipelineDeclaration];
    expect(model.members.map((m) => m.kind)).toContain('DimDeclaration');
    expect(model.members.some((m) => m.kind === 'LayerDeclaration' && m.name.base.name === 'fc2')).toBe(true);
    expect(cluster.members[0]).toMatchObject({ kind: 'DeviceDeclaration', name: { name: 'gpu' } });
    expect(pipeline.members.map((m) => m.kind)).toEqual(['PipelineSetting', 'StagesBlock', 'ScheduleUse']);
  });

  it('marks missing names as empty identifiers with zero-width spans', () => {
    const text = 'model {\n  dim batch\n}';
    const result = parse({ name: 'm.pipe', text });
    expect(located(text, result.diagnostics)).toEqual(["1:7 PIPE1004 expected a name after 'model', found '{'"]);
    const model = result.document.declarations[0] as ast.ModelDeclaration;
    expect(model.name.name).toBe('');
    expect(model.name.span.start).toBe(model.name.span.end);
    expect(model.members).toHaveLength(1);
  });

  it('says which member it expected inside a block', () => {
    const text = 'model m {\n  dim batch\n  output y: f32[batch]\n}';
    const result = parse({ name: 'm.pipe', text });
    expect(located(text, result.diagnostics)[0]).toBe(
      "3:3 PIPE1004 expected a model member (dim, input, target, layer, repeat, residual or loss) or '}' after 'batch', found 'output'",
    );
  });

  it('reports text at the top level that starts no declaration, and goes on', () => {
    const text = 'modle m {}\nmodel ok { dim batch }';
    const result = parse({ name: 't.pipe', text });
    expect(located(text, result.diagnostics)[0]).toBe(
      "1:1 PIPE1006 expected a declaration (import, model, cluster, pipeline, schedule or extern layer), found 'modle'",
    );
    expect(result.document.declarations.map((d) => d.kind)).toContain('ModelDeclaration');
  });

  it('reports unknown characters, unterminated strings and comments', () => {
    const text = 'import "a.pipe" $\nimport "b.pipe\n/* never closed';
    const result = parse({ name: 't.pipe', text });
    expect(located(text, result.diagnostics)).toEqual([
      "1:17 PIPE1001 unexpected character '$'",
      '2:8 PIPE1002 this string is missing its closing \'"\'',
      "3:1 PIPE1003 this comment is missing its closing '*/'",
    ]);
    expect(result.document.imports.map((i) => i.path.value)).toEqual(['a.pipe', 'b.pipe']);
  });

  it('points at the end of the text when the file stops early', () => {
    const text = 'pipeline p {\n  batch 64';
    const result = parse({ name: 't.pipe', text });
    expect(located(text, result.diagnostics)).toEqual([
      "2:11 PIPE1004 expected a pipeline member (a setting such as batch 64, stages, schedule, recompute or offload) or '}' after '64', found end of file",
    ]);
    expect(result.diagnostics[0].span).toMatchObject({ start: text.length, end: text.length });
  });

  it('reports a missing expression in words', () => {
    const text = 'model m { layer a = Dense(units: ) }';
    const result = parse({ name: 't.pipe', text });
    expect(located(text, result.diagnostics)).toEqual(["1:34 PIPE1005 expected an expression after ':', found ')'"]);
  });
});

describe('hints for common slips', () => {
  function firstError(text: string) {
    const result = parse({ name: 'h.pipe', text });
    return { located: located(text, result.diagnostics), hint: result.diagnostics[0]?.hint };
  }

  it('suggests == for = in a condition', () => {
    const { located: errors, hint } = firstError('schedule s { on device d { if d = 0 { B[0] } } }');
    expect(errors[0]).toBe("1:33 PIPE1004 expected '{' after 'd', found '='");
    expect(hint).toBe("compare with '=='; a single '=' only gives a value (let, dim, layer, stage)");
  });

  it('shows how named arguments are written', () => {
    const { located: errors, hint } = firstError('model m { layer c = Dense(units 4) }');
    expect(errors[0]).toBe("1:33 PIPE1004 expected ')' after 'units', found '4'");
    expect(hint).toBe('arguments are written name: value and separated by commas, e.g. Dense(units: 64, activation: relu)');
  });

  it('says that a unit must touch its number, but not for a number followed by an action', () => {
    const text = 'cluster c {\n  device gpu memory 16 GiB\n  link gpu -> gpu bandwidth 5 GB/s\n}';
    const result = parse({ name: 'u.pipe', text });
    const units = result.diagnostics.filter((d) => d.code === 'PIPE1009');
    expect(located(text, units)).toEqual([
      "2:21 PIPE1009 a unit is written right after its number: '16GiB', not '16 GiB'",
      "3:29 PIPE1009 a unit is written right after its number: '5GB/s', not '5 GB/s'",
    ]);
    expect(text.slice(units[1].span.start, units[1].span.end)).toBe('5 GB/s');
    expect(parse({ name: 'a.pipe', text: 'schedule s { on device d { let x = 3 B[0] } }' }).diagnostics).toEqual([]);
  });

  it('does not echo an error at the closing brace a recovery left behind', () => {
    const text = 'schedule s {\n  on device d {\n    if d = 0 { B[0] }\n  }\n}\nmodel z { dim a = 1 }';
    const result = parse({ name: 'e.pipe', text });
    expect(located(text, result.diagnostics)).toEqual(["3:10 PIPE1004 expected '{' after 'd', found '='"]);
    expect(result.document.declarations.map((d) => d.kind)).toContain('ModelDeclaration');
  });
});

describe('recovery inside a pipeline', () => {
  it('reports a missing comma between layers once, and keeps both layers', () => {
    const text = 'pipeline p {\n  stages {\n    s0 on gpu[0] = a b[0..2]\n    s1 on gpu[1] = c\n  }\n}';
    const result = parse({ name: 'p.pipe', text });
    expect(located(text, result.diagnostics)).toEqual(["3:22 PIPE1010 missing ',' between the layers 'a' and 'b[0..2]'"]);
    const stages = (result.document.declarations[0] as ast.PipelineDeclaration).members[0] as ast.StagesBlock;
    expect(stages.stages.map((s) => [s.name.name, s.layers.map((l) => l.base.name)])).toEqual([
      ['s0', ['a', 'b']],
      ['s1', ['c']],
    ]);
  });

  it('does not take the next line for a missing comma: a stage name there starts a stage', () => {
    const text = 'pipeline p {\n  stages placement v {\n    s0 = a\n    s1 = b\n  }\n}';
    expect(parse({ name: 'p.pipe', text }).diagnostics).toEqual([]);
  });

  it("reports a stage device written without 'on' and keeps the device", () => {
    const text = 'pipeline p {\n  stages {\n    s0 gpu[0] = a\n    s1 host = b\n  }\n}';
    const result = parse({ name: 'p.pipe', text });
    expect(located(text, result.diagnostics)).toEqual([
      "3:8 PIPE1011 missing 'on' before the device 'gpu[0]' of stage 's0'",
      "4:8 PIPE1011 missing 'on' before the device 'host' of stage 's1'",
    ]);
    const stages = (result.document.declarations[0] as ast.PipelineDeclaration).members[0] as ast.StagesBlock;
    expect(stages.stages.map((s) => s.device?.base.name)).toEqual(['gpu', 'host']);
  });

  it('reports a missing comma in a recompute list, keeps both stages and goes on with the same pipeline', () => {
    const text = 'pipeline p {\n  recompute s0 s1\n  schedule 1f1b\n  batch 8\n}';
    const result = parse({ name: 'p.pipe', text });
    expect(located(text, result.diagnostics)).toEqual(["2:16 PIPE1010 missing ',' between the stages 's0' and 's1'"]);
    const [pipeline] = result.document.declarations as [ast.PipelineDeclaration];
    expect(result.document.declarations).toHaveLength(1);
    expect(pipeline.members.map((m) => m.kind)).toEqual(['StageAttribute', 'ScheduleUse', 'PipelineSetting']);
    expect((pipeline.members[0] as ast.StageAttribute).stages.map((stage) => stage.name)).toEqual(['s0', 's1']);
  });
});

describe('the syntax message table', () => {
  // One wrong program per code: every 1xxx entry of grammar/diagnosticMessages.ts must be reachable.
  const wrongPrograms: Readonly<Record<string, string>> = {
    PIPE1001: 'model m { dim batch } #',
    PIPE1002: 'import "open',
    PIPE1003: 'model m {} /* open',
    PIPE1004: 'model m { layer a Dense() }',
    PIPE1005: 'model m { dim seq = ) }',
    PIPE1006: 'modle m {}',
    PIPE1007: 'schedule s { on device d { Q[0] } }',
    PIPE1008: 'import "\\x"',
    PIPE1009: 'cluster c { device g memory 16 GiB }',
    PIPE1010: 'pipeline p { stages { s0 on gpu[0] = a b } }',
    PIPE1011: 'pipeline p { stages { s0 gpu[0] = a } }',
    PIPE1012: 'model m { layer größe = Dense(units: 4) }',
    PIPE1200: `model m { layer a = Dense(units: ${'('.repeat(150)}1${')'.repeat(150)}) }`,
    PIPE1201: `// ${'x'.repeat(1_100_000)}`,
    PIPE1202: 'model m { layer a = Dense(units: 1e309) }',
    PIPE1203: `model m { ${'; '.repeat(260_000)}}`,
  };

  for (const definition of messagesInRange(1)) {
    it(`${definition.code} is reported for a program that needs it`, () => {
      const text = wrongPrograms[definition.code];
      expect(text).toBeDefined();
      const codes = parse({ name: 'w.pipe', text }).diagnostics.map((d) => d.code);
      expect(codes[0]).toBe(definition.code);
    });
  }
});
