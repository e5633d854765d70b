// Extern layers: the implementation is read through the host; with the
// ts-morph reader its argument type must agree with the declared parameters;
// without it (no Node), the module must at least export the layer.

import { describe, expect, test } from 'vitest';
import { checkProgram } from '../../compiler/check/index.ts';
import { readExternModuleWithTsMorph } from '../../runtime/externSignature.ts';
import { createMemoryHost } from '../../compiler/host.ts';
import { BASE_PROGRAM, expectClean, expectDiagnostic } from './helpers.ts';
import type { Checked } from './helpers.ts';

const DECLARATION = 'extern layer Gate(hidden: int, act: string = "relu") : [batch, d] -> [batch, hidden] from "./layers/gate.ts"\n';
const PROGRAM = DECLARATION + BASE_PROGRAM.replace('layer fc2 = Dense(units: 64, activation: relu)', 'layer fc2 = Gate(hidden: 32)');
const IMPLEMENTATION = `import { defineLayer } from '../../runtime/extern.ts';
interface GateArgs { readonly hidden: number; readonly act: 'relu' | 'gelu' }
export default defineLayer<GateArgs>({
  name: 'Gate',
  parameters: (args, inputShape) => [{ name: 'w', shape: [inputShape[0], args.hidden], init: 'glorot' }],
  forward: (tf, params, x) => tf.matMul(x, params.w),
});
`;

function checkWith(program: string, implementation: string | undefined, withTypeScript = true): Checked {
  const files: Record<string, string> = { 'main.pipe': program };
  if (implementation !== undefined) files['layers/gate.ts'] = implementation;
  const result = checkProgram('main.pipe', createMemoryHost(files), withTypeScript ? { readExternModule: readExternModuleWithTsMorph } : {});
  return { ...result, text: program };
}

describe('extern layers', () => {
  test('a matching implementation checks clean; the shape pattern binds d and uses the parameter', () => {
    const result = checkWith(PROGRAM, IMPLEMENTATION);
    expectClean(result);
    const gate = result.program!.model.layers[1];
    expect(gate).toMatchObject({ operator: 'Gate', args: { hidden: 32, act: 'relu' }, implementation: 'layers/gate.ts' });
    expect(gate.outputShape.dims).toEqual(['batch', 32]);
  });

  test('a missing file or export is located at the path', () => {
    expectDiagnostic(checkWith(PROGRAM, undefined), 'PIPE2022', '"./layers/gate.ts"', "cannot find the implementation of extern layer 'Gate' at './layers/gate.ts'");
    expectDiagnostic(checkWith(PROGRAM, 'export const other = 1;\n'), 'PIPE2022', '"./layers/gate.ts"', "'./layers/gate.ts' has no default export and no export named 'Gate'");
    expectDiagnostic(checkWith(PROGRAM, 'export const other = 1;\n', false), 'PIPE2022', '"./layers/gate.ts"', 'has no default export');
  });

  test('parameters must agree in name and type', () => {
    const wrongType = checkWith(PROGRAM, IMPLEMENTATION.replace('readonly hidden: number', 'readonly hidden: string'));
    expectDiagnostic(wrongType, 'PIPE2023', 'int', "parameter 'hidden' is declared int, but the implementation types it as string");
    const extra = checkWith(PROGRAM, IMPLEMENTATION.replace(" readonly act: 'relu' | 'gelu' }", " readonly act: 'relu' | 'gelu'; readonly scale: number }"));
    expectDiagnostic(extra, 'PIPE2023', 'Gate', "the implementation in './layers/gate.ts' takes 'scale', which the declaration does not list");
    const renamed = checkWith(PROGRAM, IMPLEMENTATION.replace("name: 'Gate'", "name: 'Gated'"));
    expectDiagnostic(renamed, 'PIPE2023', 'Gate', "the implementation in './layers/gate.ts' is named 'Gated'");
  });

  test('without a TypeScript reader only the export is checked', () => {
    expectClean(checkWith(PROGRAM, IMPLEMENTATION.replace('readonly hidden: number', 'readonly hidden: string'), false));
  });

  describe('cost clause', () => {
    const withCost = (clause: string): string => PROGRAM.replace('from "./layers/gate.ts"\n', `from "./layers/gate.ts" cost(${clause})\n`);

    test('states parameters, work and kept activations per example, evaluated for each use', () => {
      const result = checkWith(withCost('parameters: d * hidden, flops: 2 * d * hidden, activations: d + hidden'), IMPLEMENTATION);
      expectClean(result);
      const gate = result.program!.model.layers[1];
      // fc2's input is [batch, 64]: d = 64, hidden = 32.
      expect(gate).toMatchObject({
        parameters: 64 * 32, forwardFlops: 2 * 64 * 32, backwardInputFlops: 2 * 64 * 32, backwardWeightFlops: 2 * 64 * 32,
        activationBytes: (64 + 32) * 4, outputBytes: 32 * 4, parametersDeclared: true,
      });
    });

    test('without the clause an extern layer weighs nothing but its input', () => {
      const gate = checkWith(PROGRAM, IMPLEMENTATION).program!.model.layers[1];
      expect(gate).toMatchObject({ parameters: 0, forwardFlops: 0, backwardWeightFlops: 0, activationBytes: 64 * 4 });
      expect(gate.parametersDeclared).toBeUndefined();
    });

    test('a layer without parameters has no weight-gradient work unless stated', () => {
      const gate = checkWith(withCost('flops: 3 * d'), IMPLEMENTATION).program!.model.layers[1];
      expect(gate).toMatchObject({ parameters: 0, forwardFlops: 192, backwardInputFlops: 192, backwardWeightFlops: 0 });
    });

    test('unknown, duplicate and positional entries, and names it cannot see, are located', () => {
      expectDiagnostic(checkWith(withCost('paramters: d * hidden'), IMPLEMENTATION), 'PIPE2004', 'paramters',
        "the cost of extern layer 'Gate' has no argument 'paramters'");
      expectDiagnostic(checkWith(withCost('flops: d, flops: 2 * d'), IMPLEMENTATION), 'PIPE2005', 'flops', "argument 'flops' is given more than once");
      expectDiagnostic(checkWith(withCost('d * hidden'), IMPLEMENTATION), 'PIPE2004', 'd * hidden', "has no argument '#1'");
      const unknown = expectDiagnostic(checkWith(withCost('flops: 2 * d * hiden'), IMPLEMENTATION), 'PIPE2009', 'hiden',
        "unknown name 'hiden' in the cost of extern layer 'Gate'");
      expect(unknown.hint).toContain('hidden');
    });

    test('a cost must come to a number per example: not the symbolic batch dim, not negative', () => {
      expectDiagnostic(checkWith(withCost('flops: batch * d'), IMPLEMENTATION), 'PIPE2024', 'batch * d',
        "'flops' in the cost of extern layer 'Gate' (forward FLOPs per example) must be a number here");
      const negative = expectDiagnostic(checkWith(withCost('parameters: d - hidden * 4'), IMPLEMENTATION), 'PIPE2008', 'd - hidden * 4',
        "argument 'parameters' of the cost of extern layer 'Gate' must be a whole number ≥ 0, got -64");
      expect(negative.related?.[0]?.message).toBe('this use gives it that value');
    });

    test('the formatter keeps the clause, on its own line when the declaration is long, and is stable', async () => {
      const { parse, printDocument } = await import('../../grammar/index.ts');
      const format = (text: string): string => printDocument(parse({ name: 'main.pipe', text }).document, { text });
      const short = 'extern layer G(k: int) : [b, d] -> [b, d] from "./g.ts" cost(flops: k * d)\n';
      expect(format(short)).toBe(short);
      const long = withCost('parameters: d * hidden, flops: 2 * d * hidden, backward_weight_flops: 2 * d * hidden');
      expect(format(long)).toContain('from "./layers/gate.ts"\n  cost(parameters: d * hidden, flops: 2 * d * hidden, backward_weight_flops: 2 * d * hidden)\n');
      expect(format(format(long))).toBe(format(long));
    });
  });

  test('the input must match the declared pattern', () => {
    const result = checkWith(PROGRAM.replace('f32[batch, 784]', 'f32[batch, 28, 28]'), IMPLEMENTATION);
    const diagnostic = expectDiagnostic(result, 'PIPE2043', 'layer fc2 = Gate(hidden: 32)', "extern layer 'Gate' expects f32[batch, d], got f32[batch, 28, 64]");
    expect(diagnostic.hint).toBe('the declaration expects rank 2, the input has rank 3');
  });
});
