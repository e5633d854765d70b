// Compiles .pipe source held in memory (tests build program variants as text).

import { loadAndCheck } from '../../../cli/loadProgram.ts';
import { compileProgram } from '../../../compiler/lower/compile.ts';
import type { IrProgram } from '../../../compiler/ir/types.ts';
import type { CompilerHost } from '../../../compiler/host.ts';

export function compileText(text: string, file = '/virtual/test.pipe'): IrProgram {
  const host: CompilerHost = {
    readFile: (name) => (name === file ? text : undefined),
    resolveImport: (_from, specifier) => specifier,
  };
  const loaded = loadAndCheck(file, { host });
  if (loaded.kind !== 'checked' || !loaded.program) {
    const messages = loaded.kind === 'checked' ? loaded.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n') : loaded.message;
    throw new Error(`test program does not check:\n${messages}`);
  }
  const compiled = compileProgram(loaded.program);
  if (!compiled.ir) throw new Error(`test program does not compile:\n${compiled.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n')}`);
  return compiled.ir;
}
