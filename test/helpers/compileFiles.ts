// Tests compile files the way the CLI does: the core's compilation over a
// host on node:fs (or an in-memory one), with the TypeScript reader of extern
// layers. No test chains phases itself.

import path from 'node:path';
import { createNodeHost } from '../../cli/io.ts';
import { compileFile, createMemoryHost, verifyEveryPipeline, type Compilation, type CompileRequest } from '../../compiler/index.ts';
import { readExternModule } from '../../runtime/index.ts';

// The CLI's host: relative paths from the working directory, links followed,
// so read confinement sees the same absolute paths as `pipec`.
export const nodeHost = createNodeHost();

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
