// The registry's typing is the guard against drift between the catalog and
// the runtime, and `npm test` does not run the type checker: so this test
// type-checks the registry and test/runtime/layerRegistry.types.ts (whose
// `@ts-expect-error` lines must each be an error) with the project's options.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('layer registry types', () => {
  it('a missing kind, an unknown kind, a misspelt or mistyped argument and a partial argument record are type errors', () => {
    const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    const files = ['runtime/layers/registry.ts', 'test/runtime/layerRegistry.types.ts'].map((file) => path.join(root, file));
    const program = ts.createProgram(files, { ...options, noEmit: true });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file ? `${path.relative(root, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}: ` : '';
      return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    });
    expect(problems).toEqual([]);
  }, 60_000);
});
