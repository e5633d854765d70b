import { describe, expect, it } from 'vitest';
import type * as ast from '../../grammar/ast.ts';
import { childKeys, parse, visit } from '../../grammar/index.ts';
import { located, parseClean, testPrograms, withoutSpans } from './helpers.ts';

function only<T extends ast.Declaration>(text: string): T {
  const document = parseClean(text);
  expect(document.declarations).toHaveLength(1);
  return document.declarations[0] as T;
}

function modelMembers(body: string): readonly ast.ModelMember[] {
  return only<ast.ModelDeclaration>(`model m {\n${body}\n}`).members;
}

function pipelineMembers(body: string): readonly ast.PipelineMember[] {
  return only<ast.PipelineDeclaration>(`pipeline p {\n${body}\n}`).members;
}

function scheduleBody(body: string): readonly ast.ScheduleStatement[] {
  return only<ast.ScheduleDeclaration>(`schedule s(p, m) {\n${body}\n}`).body;
}

function deviceBody(body: string): readonly ast.OrderStatement[] {
  const [block] = scheduleBody(`on device d {\n${body}\n}`);
  expect(block.kind).toBe('OnDeviceBlock');
  return (block as ast.OnDeviceBlock).body;
}

function expression(text: string): ast.Expression {
  const [statement] = deviceBody(`let x = ${text}`);
  return (statement as ast.LetStatement).value;
}

/** A compact rendering of an expression tree, to assert structure without spans. */
function shape(e: ast.Expression | ast.RangeExpression): string {
  switch (e.kind) {
    case 'BinaryExpression':
      return `(${shape(e.left)} ${e.operator} ${shape(e.right)})`;
    case 'UnaryExpression':
      return `${e.operator}${shape(e.operand)}`;
    case 'ParenthesizedExpression':
      return `[${shape(e.expression)}]`;
    case 'NameExpression':
      return e.name.name;
    case 'NumberLiteral':
      return `#${e.value}`;
    case 'QuantityLiteral':
      return `${e.value}<${e.unit}>`;
    case 'StringLiteral':
      return JSON.stringify(e.value);
    case 'BooleanLiteral':
      return String(e.value);
    case 'CallExpression':
      return `${e.callee.name}(${e.args.map((a) => (a.name ? `${a.name.name}=` : '') + shape(a.value)).join(', ')})`;
    case 'RangeExpression':
      return `${shape(e.from)}..${shape(e.to)}`;
  }
}

describe('documents and imports', () => {
  it('parses imports with exact spans', () => {
    const document = parseClean('import "./x.pipe"\nimport "std:schedules"');
    expect(document.imports.map((i) => i.path.value)).toEqual(['./x.pipe', 'std:schedules']);
    expect(document.imports[0].span).toEqual({ file: 'test.pipe', start: 0, end: 17 });
    expect(document.imports[0].path.span).toEqual({ file: 'test.pipe', start: 7, end: 17 });
    expect(document.imports[1].span).toMatchObject({ start: 18, end: 40 });
  });

  it('accepts a byte-order mark and Windows line endings', () => {
    const document = parseClean('\uFEFFmodel m { // note\r\n  dim batch\r\n}\r\n');
    expect(document.declarations).toHaveLength(1);
    expect(document.comments.map((c) => c.text)).toEqual(['// note']);
  });

  it('keeps declarations in source order and an empty file empty', () => {
    const document = parseClean('schedule a { split backward }\nmodel b {}\ncluster c {}\npipeline d {}');
    expect(document.declarations.map((d) => d.kind)).toEqual([
      'ScheduleDeclaration',
      'ModelDeclaration',
      'ClusterDeclaration',
      'PipelineDeclaration',
    ]);
    expect(parse({ name: 'e.pipe', text: '' })).toMatchObject({ diagnostics: [], document: { declarations: [], imports: [] } });
  });
});

describe('model', () => {
  it('parses dims, tensors and layers with exact spans', () => {
    const text = 'model m {\n  dim batch\n  dim seq = 32\n  input x: f32[batch, seq]\n  layer block[i] = TransformerBlock(heads: 4)\n}';
    const model = only<ast.ModelDeclaration>(text);
    const [batch, seq, input, layer] = model.members as [ast.DimDeclaration, ast.DimDeclaration, ast.TensorDeclaration, ast.LayerDeclaration];
    expect(model.name).toEqual({ kind: 'Identifier', name: 'm', span: { file: 'test.pipe', start: 6, end: 7 } });
    expect(batch).toEqual({
      kind: 'DimDeclaration',
      name: { kind: 'Identifier', name: 'batch', span: { file: 'test.pipe', start: 16, end: 21 } },
      span: { file: 'test.pipe', start: 12, end: 21 },
    });
    expect(seq.value).toEqual({ kind: 'NumberLiteral', value: 32, text: '32', span: { file: 'test.pipe', start: 34, end: 36 } });
    expect(input.role).toBe('input');
    expect(input.type.dtype.name).toBe('f32');
    expect(input.type.dims.map(shape)).toEqual(['batch', 'seq']);
    expect(text.slice(input.span.start, input.span.end)).toBe('input x: f32[batch, seq]');
    expect(text.slice(input.type.span.start, input.type.span.end)).toBe('f32[batch, seq]');
    expect(layer.name.base.name).toBe('block');
    expect(shape(layer.name.index!)).toBe('i');
    expect(text.slice(layer.name.span.start, layer.name.span.end)).toBe('block[i]');
    expect(layer.operator.name).toBe('TransformerBlock');
    expect(layer.args.map((a) => [a.name?.name, shape(a.value)])).toEqual([['heads', '#4']]);
    expect(text.slice(layer.args[0].span.start, layer.args[0].span.end)).toBe('heads: 4');
    expect(text.slice(layer.span.start, layer.span.end)).toBe('layer block[i] = TransformerBlock(heads: 4)');
  });

  it('parses targets, repeat and residual blocks, losses and argument-less layers', () => {
    const [target, repeat, residual, flat, loss] = modelMembers(
      'target y: i32[batch]\nrepeat i in 0..n-1 { layer h[i] = Dense(units: 8) }\nresidual r[0] { layer a = Dense(units: 8); layer b = GELU() }\nlayer flat = Flatten\nloss softmax_cross_entropy(b, y)',
    ) as [ast.TensorDeclaration, ast.RepeatBlock, ast.ResidualBlock, ast.LayerDeclaration, ast.LossDeclaration];
    expect(target).toMatchObject({ kind: 'TensorDeclaration', role: 'target', name: { name: 'y' } });
    expect(repeat.variable.name).toBe('i');
    expect(shape(repeat.range)).toBe('#0..(n - #1)');
    expect(repeat.body.map((m) => m.kind)).toEqual(['LayerDeclaration']);
    expect(residual.name.base.name).toBe('r');
    expect(residual.body).toHaveLength(2);
    expect(flat.args).toEqual([]);
    expect(loss.function.name).toBe('softmax_cross_entropy');
    expect(loss.args.map((a) => shape(a.value))).toEqual(['b', 'y']);
  });

  it('accepts keywords as names where a name is expected', () => {
    const [layer] = modelMembers('layer dim = Embedding(dim: 64, input: 3, model: 1)') as [ast.LayerDeclaration];
    expect(layer.name.base.name).toBe('dim');
    expect(layer.args.map((a) => a.name?.name)).toEqual(['dim', 'input', 'model']);
  });

  it('parses extern layers', () => {
    const extern = only<ast.ExternLayerDeclaration>(
      'extern layer SwiGLU(hidden: int, rate: float = 0.1) : [batch, d] -> [batch, 2 * d] from "./swiglu.ts"',
    );
    expect(extern.name.name).toBe('SwiGLU');
    expect(extern.params.map((p) => [p.name.name, p.type.name, p.default && shape(p.default)])).toEqual([
      ['hidden', 'int', undefined],
      ['rate', 'float', '#0.1'],
    ]);
    expect(extern.inputDims.map(shape)).toEqual(['batch', 'd']);
    expect(extern.outputDims.map(shape)).toEqual(['batch', '(#2 * d)']);
    expect(extern.path.value).toBe('./swiglu.ts');
  });
});

describe('cluster', () => {
  it('parses devices with ranges and properties, and links in both directions', () => {
    const text = 'cluster c {\n  device gpu[0..4] memory 16GiB speed 100TFLOPS\n  device host memory 64GiB\n  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us\n  link gpu[0] -> host\n}';
    const cluster = only<ast.ClusterDeclaration>(text);
    const [gpu, host, all, one] = cluster.members as [ast.DeviceDeclaration, ast.DeviceDeclaration, ast.LinkDeclaration, ast.LinkDeclaration];
    expect(gpu.name.name).toBe('gpu');
    expect(shape(gpu.range!)).toBe('#0..#4');
    expect(gpu.properties.map((p) => [p.key.name, shape(p.value)])).toEqual([
      ['memory', '16<GiB>'],
      ['speed', '100<TFLOPS>'],
    ]);
    expect(text.slice(gpu.properties[0].span.start, gpu.properties[0].span.end)).toBe('memory 16GiB');
    expect(host.range).toBeUndefined();
    expect(all.bidirectional).toBe(true);
    expect(all.from.index).toMatchObject({ kind: 'WildcardIndex' });
    expect(text.slice(all.from.index!.span.start, all.from.index!.span.end)).toBe('*');
    expect(all.properties.map((p) => (p.value as ast.QuantityLiteral).unit)).toEqual(['GB/s', 'us']);
    expect(one.bidirectional).toBe(false);
    expect(one.to).toMatchObject({ kind: 'DeviceReference', base: { name: 'host' } });
    expect(one.to.index).toBeUndefined();
  });
});

describe('pipeline', () => {
  it('parses several settings on one line and keyword-named settings', () => {
    const members = pipelineMembers('model gpt  cluster local  batch 64  microbatches 8; optimizer adam(lr: 1e-3)');
    expect(members.map((m) => (m as ast.PipelineSetting).key.name)).toEqual(['model', 'cluster', 'batch', 'microbatches', 'optimizer']);
    expect(members.map((m) => shape((m as ast.PipelineSetting).value))).toEqual(['gpt', 'local', '#64', '#8', 'adam(lr=#0.001)']);
  });

  it('parses explicit, placed and automatic stages', () => {
    const [explicit, placed, automatic] = pipelineMembers(
      'stages { s0 on gpu[0] = embed, block[0]\n s1 on gpu[1] = block[1..3] }\nstages placement v { a = x b = y[2], z }\nstages auto(8) balance compute placement v',
    ) as [ast.StagesBlock, ast.StagesBlock, ast.AutoStages];
    expect(explicit.placement).toBeUndefined();
    expect(explicit.stages.map((s) => s.name.name)).toEqual(['s0', 's1']);
    expect(explicit.stages[0].device).toMatchObject({ base: { name: 'gpu' }, index: { kind: 'NumberLiteral', value: 0 } });
    expect(explicit.stages[0].layers.map((l) => [l.base.name, l.index && shape(l.index)])).toEqual([
      ['embed', undefined],
      ['block', '#0'],
    ]);
    expect(explicit.stages[1].layers[0].index).toMatchObject({ kind: 'RangeExpression' });
    expect(placed.placement?.name).toBe('v');
    expect(placed.stages.map((s) => [s.name.name, s.device, s.layers.length])).toEqual([
      ['a', undefined, 1],
      ['b', undefined, 2],
    ]);
    expect(automatic).toMatchObject({ kind: 'AutoStages', count: { value: 8 }, balance: { name: 'compute' }, placement: { name: 'v' } });
  });

  it('parses schedule choices and stage attributes', () => {
    const [plain, withArgs, auto, recompute, offload] = pipelineMembers(
      'schedule 1f1b schedule interleaved_1f1b(v: 2) schedule auto(memory: 1.0 * activations(1f1b)) recompute s1, s2 offload s0',
    ) as [ast.ScheduleUse, ast.ScheduleUse, ast.ScheduleUse, ast.StageAttribute, ast.StageAttribute];
    expect(plain).toMatchObject({ kind: 'ScheduleUse', name: { name: '1f1b' }, args: [] });
    expect(withArgs.args.map((a) => [a.name?.name, shape(a.value)])).toEqual([['v', '#2']]);
    expect(shape(auto.args[0].value)).toBe('(#1 * activations(1f1b))');
    expect(recompute).toMatchObject({ attribute: 'recompute', stages: [{ name: 's1' }, { name: 's2' }] });
    expect(offload).toMatchObject({ attribute: 'offload', stages: [{ name: 's0' }] });
  });

  it('parses frozen stages and frozen layers (frozen is a name where one is declared)', () => {
    const [frozen] = pipelineMembers('frozen s0, s1 schedule zb_h2') as [ast.StageAttribute];
    expect(frozen).toMatchObject({ kind: 'StageAttribute', attribute: 'frozen', stages: [{ name: 's0' }, { name: 's1' }] });
    const [encoder, head, named] = modelMembers('frozen layer encoder = Dense(units: 8)\nlayer head = Dense(units: 2)\nlayer frozen = ReLU') as ast.LayerDeclaration[];
    expect(encoder).toMatchObject({ kind: 'LayerDeclaration', name: { base: { name: 'encoder' } }, frozen: { span: { start: 10, end: 16 } } });
    expect(head.frozen).toBeUndefined();
    expect(named).toMatchObject({ name: { base: { name: 'frozen' } } });
    expect(named.frozen).toBeUndefined();
  });
});

describe('schedules', () => {
  it('parses parameters with defaults and the rule statements', () => {
    const schedule = only<ast.ScheduleDeclaration>(
      'schedule zb(p, m, v = 2) {\n split backward\n limit activations <= 2 * p - d per device\n priority B[1] > F > W[0]\n requires placement v\n requires split backward\n}',
    );
    expect(schedule.params.map((p) => [p.name.name, p.default && shape(p.default)])).toEqual([
      ['p', undefined],
      ['m', undefined],
      ['v', '#2'],
    ]);
    const [split, limit, priority, placement, requiresSplit] = schedule.body as [
      ast.SplitBackwardRule, ast.LimitRule, ast.PriorityRule, ast.RequiresRule, ast.RequiresRule,
    ];
    expect(split.kind).toBe('SplitBackwardRule');
    expect(limit.resource.name).toBe('activations');
    expect(shape(limit.bound)).toBe('((#2 * p) - d)');
    expect(limit.per?.name).toBe('device');
    expect(priority.terms.map((t) => [t.operation, t.chunk && shape(t.chunk)])).toEqual([
      ['B', '#1'],
      ['F', undefined],
      ['W', '#0'],
    ]);
    expect(placement).toMatchObject({ what: { name: 'placement' }, value: { name: 'v' } });
    expect(requiresSplit).toMatchObject({ what: { name: 'split' }, value: { name: 'backward' } });
  });

  it('parses contract conditions with and without a message, and keeps the named forms', () => {
    const schedule = only<ast.ScheduleDeclaration>(
      'schedule d(p, m) {\n requires placement v\n requires v == 2\n requires m >= 2 * p "needs at least 2p microbatches"\n requires gpus\n priority F > B\n}',
    );
    const [placement, chunks, microbatches, unknown] = schedule.body as [ast.RequiresRule, ast.RequiresCondition, ast.RequiresCondition, ast.RequiresRule];
    expect(placement).toMatchObject({ kind: 'RequiresRule', what: { name: 'placement' }, value: { name: 'v' } });
    expect(chunks.kind).toBe('RequiresCondition');
    expect(shape(chunks.condition)).toBe('(v == #2)');
    expect(chunks.message).toBeUndefined();
    expect(shape(microbatches.condition)).toBe('(m >= (#2 * p))');
    expect(microbatches.message?.value).toBe('needs at least 2p microbatches');
    // A bare name stays the named form (and is reported as an unknown requirement).
    expect(unknown).toMatchObject({ kind: 'RequiresRule', what: { name: 'gpus' } });
    expect(unknown.value).toBeUndefined();
  });

  it('stops a bare requires before the next statement', () => {
    const [requires, split] = scheduleBody('requires interleaving\nsplit backward');
    expect(requires).toMatchObject({ kind: 'RequiresRule', what: { name: 'interleaving' } });
    expect((requires as ast.RequiresRule).value).toBeUndefined();
    expect(split.kind).toBe('SplitBackwardRule');
  });

  it('parses explicit orders: let, actions, for, if/else if/else and overlap', () => {
    const text = 'let w = min(p - d - 1, m)\nF[0..w]\nfor i in 0..m-w { F[i+w]; B[i] }\nB[m-w..m]\nI[i, 1]\nif d == 0 { W[0] } else if d == 1 { W[1] } else { W[2] }\noverlap { F[0, 0] B[1, 1] }';
    const [letW, forward, loop, backward, input, branch, overlap] = deviceBody(text) as [
      ast.LetStatement, ast.ActionStatement, ast.ForStatement, ast.ActionStatement, ast.ActionStatement, ast.IfStatement, ast.OverlapStatement,
    ];
    expect(shape(letW.value)).toBe('min(((p - d) - #1), m)');
    expect(forward).toMatchObject({ operation: 'F', microbatch: { kind: 'RangeExpression' } });
    expect(forward.chunk).toBeUndefined();
    expect(shape(loop.range)).toBe('#0..(m - w)');
    expect(loop.body.map((s) => `${(s as ast.ActionStatement).operation}[${shape((s as ast.ActionStatement).microbatch)}]`)).toEqual([
      'F[(i + w)]',
      'B[i]',
    ]);
    expect(shape(backward.microbatch)).toBe('(m - w)..m');
    expect(input.operation).toBe('I');
    expect(shape(input.chunk!)).toBe('#1');
    expect(shape(branch.condition)).toBe('(d == #0)');
    const elseIf = branch.otherwise![0] as ast.IfStatement;
    expect(elseIf.kind).toBe('IfStatement');
    expect(elseIf.otherwise).toHaveLength(1);
    expect(overlap.body.map((a) => a.operation)).toEqual(['F', 'B']);
  });

  it('gives the same tree with or without semicolons and newlines', () => {
    const spaced = deviceBody('for i in 0..m { F[i]; B[i] }');
    const bare = deviceBody('for i in 0..m { F[i] B[i] }');
    const lines = deviceBody('for i in 0..m {\n  F[i]\n  B[i]\n}');
    expect(withoutSpans(bare)).toEqual(withoutSpans(spaced));
    expect(withoutSpans(lines)).toEqual(withoutSpans(spaced));
  });

  it('reports an action letter other than F, B, I or W', () => {
    const text = 'schedule s { on device d { X[0] } }';
    const result = parse({ name: 't.pipe', text });
    expect(located(text, result.diagnostics)).toEqual([
      "1:28 PIPE1007 unknown action 'X'; an action is F (forward), B (backward), I (input gradient), W (weight gradient), R (recompute), O (offload) or L (load back)",
    ]);
  });
});

describe('expressions', () => {
  it('binds operators by precedence, left to right', () => {
    expect(shape(expression('a + b * c - d / e % f'))).toBe('((a + (b * c)) - ((d / e) % f))');
    expect(shape(expression('a || b && c == d < e + 1'))).toBe('(a || (b && (c == (d < (e + #1)))))');
    expect(shape(expression('-a * !b'))).toBe('(-a * !b)');
    expect(shape(expression('(a + b) * c'))).toBe('([(a + b)] * c)');
    expect(shape(expression('a != b >= c <= d > e'))).toBe('(a != (((b >= c) <= d) > e))');
  });

  it('continues an expression onto the next line when it can (a statement never starts with an operator)', () => {
    const [letY, action] = deviceBody('let y = x\n  - 1\nF[y]');
    expect(shape((letY as ast.LetStatement).value)).toBe('(x - #1)');
    expect(action.kind).toBe('ActionStatement');
  });

  it('reads literals of every kind', () => {
    expect(shape(expression('f(1e-3, 0.5, 256, 16GiB, 50GB/s, "a\\"b\\n\\u{41}", true, false, 1f1b)'))).toBe(
      'f(#0.001, #0.5, #256, 16<GiB>, 50<GB/s>, "a\\"b\\nA", true, false, 1f1b)',
    );
    const quantity = expression('2.5e3ms') as ast.QuantityLiteral;
    expect(quantity).toMatchObject({ kind: 'QuantityLiteral', value: 2500, unit: 'ms', text: '2.5e3ms' });
    const number = expression('1e-3') as ast.NumberLiteral;
    expect(number).toMatchObject({ value: 0.001, text: '1e-3' });
  });

  it('reports an unknown escape inside a string', () => {
    const text = 'import "a\\qb"';
    const result = parse({ name: 't.pipe', text });
    expect(located(text, result.diagnostics)).toEqual(["1:10 PIPE1008 unknown escape '\\q' in a string"]);
    expect(result.document.imports[0].path.value).toBe('aqb');
  });
});

describe('coverage of the AST', () => {
  it('the test programs produce every node kind', () => {
    const seen = new Set<string>();
    for (const program of testPrograms()) {
      visit(parseClean(program.text, program.name), { enter: (node) => void seen.add(node.kind) });
    }
    const missing = Object.keys(childKeys).filter((kind) => !seen.has(kind));
    expect(missing).toEqual([]);
  });

  it('every span of every node lies inside its source and inside its parent', () => {
    for (const program of testPrograms()) {
      const document = parseClean(program.text, program.name);
      visit(document, {
        enter(node, parent) {
          expect(node.span.start).toBeGreaterThanOrEqual(0);
          expect(node.span.end).toBeLessThanOrEqual(program.text.length);
          expect(node.span.start).toBeLessThanOrEqual(node.span.end);
          if (parent !== undefined && node.kind !== 'Comment') {
            expect(node.span.start).toBeGreaterThanOrEqual(parent.span.start);
            expect(node.span.end).toBeLessThanOrEqual(parent.span.end);
          }
        },
      });
    }
  });
});
