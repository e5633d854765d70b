// Tests compile files the way the CLI does: the core's compilation over a
// host on node:fs (or an in-memory one), with the TypeScript reader of extern
// layers. No test chains phases itself.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { compileFile, createMemoryHost, createReaderHost, verifyEveryPipeline, type Compilation, type CompileRequest } from '../../compiler/index.ts';
import { readExternModule } from '../../runtime/index.ts';

export const nodeHost = createReaderHost((file) => {
  try {
    return statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
  } catch {
    return undefined;
  }
});

/** FILE compiled as far as `request.until` (default: verified streams). */
export function compileOnDisk(file: string, request: CompileRequest = {}): Compilation {
  // The repository is the project, as `pipec` finds it (the folder with package.json).
  return compileFile(path.normalize(file), nodeHost, { readExternModule, projectRoot: '.', ...request });
}

/** Only the checker's work: what `pipec check` reports before any schedule is compiled. */
export function checkOnDisk(file: string, request: CompileRequest = {}): Compilation {
  return compileOnDisk(file, { ...request, until: 'check' });
}

/** What `pipec check FILE` proves: every pipeline through the deadlock proof. */
export function checkLikeCli(file: string, request: CompileRequest = {}): Compilation {
  return verifyEveryPipeline(compileOnDisk(file, { ...request, until: 'check' }));
}

/** .pipe source held in memory, compiled to verified streams. */
export function compileInMemory(text: string, file = 'main.pipe', request: CompileRequest = {}): Compilation {
  return compileFile(file, createMemoryHost({ [file]: text }), request);
}
