// The one-way data flow, enforced: grammar ← compiler ← cli, runtime ← cli;
// the compiler's library entry is free of Node APIs (editors and browsers
// embed it); the runtime reads only the contracts the compiler emits.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface ImportEdge {
  readonly from: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
}

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const edges: ImportEdge[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)) {
    edges.push({ from: file, specifier: match[2], typeOnly: match[1] !== undefined });
  }
  return edges;
}

function resolve(edge: ImportEdge): string | undefined {
  if (!edge.specifier.startsWith('.')) return undefined;
  return path.normalize(path.join(path.dirname(edge.from), edge.specifier));
}

function sourcesUnder(folder: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, folder))) {
    const relative = path.join(folder, entry);
    if (statSync(path.join(root, relative)).isDirectory()) out.push(...sourcesUnder(relative));
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(relative);
  }
  return out;
}

describe('module boundaries', () => {
  it('the compiler library entry loads no Node API, transitively', () => {
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const edge of importsOf(file)) {
        if (edge.typeOnly) continue;
        const target = resolve(edge);
        if (target) visit(target);
        else if (edge.specifier.startsWith('node:') || ['fs', 'path', 'ts-morph', 'worker_threads'].includes(edge.specifier)) {
          offenders.push(`${file} imports ${edge.specifier}`);
        }
      }
    };
    visit('compiler/index.ts');
    expect(offenders).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
  });

  it('grammar/ and compiler/ never import the runtime or the CLI', () => {
    const offenders = [...sourcesUnder('grammar'), ...sourcesUnder('compiler')]
      .flatMap(importsOf)
      .filter((edge) => /^(runtime|cli)\//.test(resolve(edge) ?? ''))
      .map((edge) => `${edge.from} imports ${edge.specifier}`);
    expect(offenders).toEqual([]);
  });

  // The one exception outside the contracts: the diagnostics table, pure data
  // (plus its template formatter) with no imports of its own, so a runtime
  // fault and a compile-time diagnostic share codes and wording.
  it('runtime/ reads only the IR and cost contracts of the compiler, and only their types, plus the diagnostics table', () => {
    const contracts = new Set(['compiler/ir/types.ts', 'compiler/cost/types.ts']);
    const diagnosticsTable = 'grammar/diagnosticMessages.ts';
    const offenders = sourcesUnder('runtime')
      .flatMap(importsOf)
      .filter((edge) => {
        const target = resolve(edge) ?? '';
        if (!/^(compiler|grammar|cli)\//.test(target)) return false;
        return !(contracts.has(target) && edge.typeOnly) && !(target === 'compiler/ir/types.ts') && target !== diagnosticsTable;
      })
      .map((edge) => `${edge.from} imports ${edge.specifier}`);
    expect(offenders).toEqual([]);
  });

  it('the diagnostics table imports nothing, so every layer can share it', () => {
    expect(importsOf('grammar/diagnosticMessages.ts')).toEqual([]);
  });
});
