// Extern layers: the implementation is read through the host; with the
// ts-morph reader its argument type must agree with the declared parameters;
// without it (no Node), the module must at least export the layer.

import { describe, expect, test } from 'vitest';
import { checkProgram } from '../../compiler/check/index.ts';
import { readExternModuleWithTsMorph } from '../../compiler/check/externTypeScript.ts';
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

  test('the input must match the declared pattern', () => {
    const result = checkWith(PROGRAM.replace('f32[batch, 784]', 'f32[batch, 28, 28]'), IMPLEMENTATION);
    const diagnostic = expectDiagnostic(result, 'PIPE2043', 'layer fc2 = Gate(hidden: 32)', "extern layer 'Gate' expects f32[batch, d], got f32[batch, 28, 64]");
    expect(diagnostic.hint).toBe('the declaration expects rank 2, the input has rank 3');
  });
});
