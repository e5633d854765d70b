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

  it('runtime/ reads only the IR and cost contracts of the compiler (types, and the IR schema)', () => {
    // compiler/check/extern.ts: the type of the extern-layer reader the Node edge hands the checker.
    const contracts = new Set(['compiler/ir/types.ts', 'compiler/cost/types.ts', 'compiler/check/extern.ts']);
    // The one diagnostics table is pure data every layer shares.
    const diagnosticsTable = 'grammar/diagnosticMessages.ts';
    const offenders = sourcesUnder('runtime')
      .flatMap(importsOf)
      .filter((edge) => {
        const target = resolve(edge) ?? '';
        if (!/^(compiler|grammar|cli)\//.test(target)) return false;
        // The IR's JSON schema is the contract itself, checked at run time against IR from anywhere.
        return !(contracts.has(target) && edge.typeOnly) && target !== 'compiler/ir/types.ts' && target !== 'compiler/ir/schema.ts' && target !== diagnosticsTable;
      })
      .map((edge) => `${edge.from} imports ${edge.specifier}`);
    expect(offenders).toEqual([]);
  });

  it('the diagnostics table imports nothing, so every layer can share it', () => {
    expect(importsOf('grammar/diagnosticMessages.ts')).toEqual([]);
  });
});

// The edges (CLI, benchmarks, scripts, the playground, the language server) see the core only through its public
// faces, and never chain phases themselves: compiler/compilation.ts does.
const PUBLIC_FACES = new Set(['compiler/index.ts', 'runtime/index.ts', 'grammar/index.ts']);

describe('the edges use only the public faces', () => {
  for (const folder of ['cli', 'bench', 'scripts', 'playground', 'lsp']) {
    it(`${folder}/ imports only compiler/index.ts, runtime/index.ts and grammar/index.ts of the core`, () => {
      const offenders = sourcesUnder(folder)
        .flatMap(importsOf)
        .filter((edge) => {
          const target = resolve(edge);
          if (target === undefined || !/^(compiler|runtime|grammar|cli)\//.test(target)) return false;
          // A folder's own files (cli/ importing cli/render.ts) are its business.
          if (target.startsWith(`${folder}/`)) return false;
          return !PUBLIC_FACES.has(target);
        })
        .map((edge) => `${edge.from} imports ${edge.specifier}`);
      expect(offenders).toEqual([]);
    });
  }

  it('cli/ holds no phase orchestration: it never calls a phase itself', () => {
    const phaseFunctions = [
      'checkProgram', 'parseProgram', 'evaluateSchedule', 'validateSchedule', 'lowerToInstructionStreams', 'proveDeadlockFree',
      'builtinSchedule', 'importTorchCsv', 'bareAutoSchedule', 'compileProgram', 'scheduleProgram', 'lowerProgram', 'simulateIr',
    ];
    const offenders = sourcesUnder('cli').flatMap((file) => {
      const text = readFileSync(path.join(root, file), 'utf8');
      return phaseFunctions.filter((name) => new RegExp(`\\b${name}\\s*\\(`).test(text)).map((name) => `${file} calls ${name}`);
    });
    expect(offenders).toEqual([]);
  });
});

// madge would do this, but madge 8 requires TypeScript 5 and the project is on 6;
// the import graph is already at hand, so Tarjan's strongly connected components.
describe('import cycles', () => {
  it('no module imports itself through others (value imports; type-only imports vanish at run time)', () => {
    const files = ['grammar', 'compiler', 'runtime', 'cli', 'bench', 'scripts', 'playground', 'lsp'].flatMap(sourcesUnder);
    const known = new Set(files);
    const edges = new Map(files.map((file) => [file, importsOf(file).filter((edge) => !edge.typeOnly).map(resolve).filter((target): target is string => target !== undefined && known.has(target))]));
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    let counter = 0;
    const connect = (file: string): void => {
      index.set(file, counter);
      low.set(file, counter++);
      stack.push(file);
      onStack.add(file);
      for (const target of edges.get(file) ?? []) {
        if (!index.has(target)) {
          connect(target);
          low.set(file, Math.min(low.get(file)!, low.get(target)!));
        } else if (onStack.has(target)) {
          low.set(file, Math.min(low.get(file)!, index.get(target)!));
        }
      }
      if (low.get(file) === index.get(file)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== file);
        if (component.length > 1 || (edges.get(file) ?? []).includes(file)) cycles.push(component.sort());
      }
    };
    for (const file of files) if (!index.has(file)) connect(file);
    expect(cycles).toEqual([]);
  });
});
