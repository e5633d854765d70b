// Compiles .pipe source held in memory (tests build program variants as text).

import { succeeded, type IrProgram } from '../../../compiler/index.ts';
import { readExternModule } from '../../../runtime/index.ts';
import { compileInMemory } from '../../helpers/compileFiles.ts';

export function compileText(text: string, file = '/virtual/test.pipe'): IrProgram {
  const compiled = compileInMemory(text, file, { readExternModule });
  if (!succeeded(compiled)) {
    const messages = [...compiled.diagnostics.map((d) => `${d.code}: ${d.message}`), compiled.stop?.message ?? ''].join('\n');
    throw new Error(`test program does not compile:\n${messages}`);
  }
  return compiled.ir!;
}
