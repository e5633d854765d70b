// The fuzzing harness: grammar-aware mutations of real programs (the samples,
// the test cases, the standard library) run through the whole compilation
// (parse → check → schedule → lower → verify) and the simulator, in process,
// and every broken promise is classified as a finding. Two drivers share it:
// test/fuzz/fuzz.test.ts (bounded, seeded, shrinking, in `npm test`) and
// scripts/fuzz.ts (`npm run fuzz -- --minutes N`, the long run).
//
// A promise is broken when: a phase throws (exception); a diagnostic sits at
// 1:1 or outside its file while it names a real construct (unlocated); a
// message or hint shows a hole such as `undefined`, `NaN` or a `{name}`
// placeholder (hole); the IR or the simulation holds NaN or ±Infinity
// (non-finite); the IR fails its own JSON schema (schema); compile accepts
// but the simulation gets stuck (disagreement); or a phase takes longer than
// a bound (slow; only the long run counts wall time).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  compileFile, continueCompilation, createReaderHost, simulateCompilation, validateIr, type Compilation, type CompilerHost, type Diagnostic,
} from '../../compiler/index.ts';
import { readExternModule } from '../../runtime/index.ts';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type FindingKind = 'exception' | 'unlocated' | 'hole' | 'non-finite' | 'schema' | 'disagreement' | 'slow';
export const FINDING_KINDS: readonly FindingKind[] = ['exception', 'unlocated', 'hole', 'non-finite', 'schema', 'disagreement', 'slow'];

export interface Finding {
  readonly kind: FindingKind;
  /** What went wrong, one line (a diagnostic's code, the exception's message, the phase that was slow). */
  readonly detail: string;
}

/** A program to mutate: its path relative to the repository root (so its imports resolve) and its text. */
export interface SeedProgram {
  readonly file: string;
  readonly text: string;
}

function pipeFilesUnder(relative: string): string[] {
  const absolute = path.join(REPOSITORY_ROOT, relative);
  const out: string[] = [];
  for (const entry of readdirSync(absolute).sort()) {
    const child = path.posix.join(relative, entry);
    if (statSync(path.join(absolute, entry)).isDirectory()) out.push(...pipeFilesUnder(child));
    else if (entry.endsWith('.pipe')) out.push(child);
  }
  return out;
}

/** Every .pipe file of samples/, test/ (goldens, grammar programs, fixtures, fuzz regressions) and the standard library. */
export function seedPrograms(): SeedProgram[] {
  const files = [...pipeFilesUnder('samples'), ...pipeFilesUnder('test'), 'compiler/stdlib/schedules.pipe'];
  return files.map((file) => ({ file, text: readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8') }));
}

// ───────────────────────────── mutations ─────────────────────────────

/** Numbers that broke promises before: zero, negatives, overflow of 32 and 53 bits, 1e308, NaN-looking text. */
export const EXTREME_NUMBERS = [
  '0', '-1', '1', '-0', '0.5', '1e308', '1e300', '-1e308', '1e-320', '9007199254740993', '4294967297', '4294967296', '2147483648',
  '100000', '10000000', '1e9', '999999999999999999999', 'NaN', 'Infinity', '1e', '0x10', '1_000',
] as const;

/** Ordinary sizes, so that many mutants still compile and reach the schedule, the IR and the simulator. */
export const ORDINARY_NUMBERS = ['2', '3', '4', '6', '8', '12', '16', '32', '64', '128'] as const;

/** Whole tokens of the language, to be typed in anywhere. */
const VOCABULARY = [
  '{', '}', '(', ')', '[', ']', ',', ':', '=', '..', '<->', '+', '-', '*', '/', '%', '"', '\n', 'F[0]', 'B[0]', 'I[0]', 'W[0]',
  'repeat i in 0..2 {', 'residual r {', 'if d == 0 {', 'for i in 0..m {', 'on device d {', 'let w = p', 'model', 'layer', 'stages', 'schedule',
  'microbatches', 'batch', 'recompute', 'offload', 'frozen', 'frozen layer', 'replicas', 'auto(4096)', 'placement v', 'bandwidth 0GB/s', 'latency 1e300s',
  'memory 0GiB', 'speed 0TFLOPS', 'Dense(units: 1e308)', 'Embedding(vocab: 96, dim: 1e308)', 'x', 'p', 'm', 'd', 'v', 'n',
] as const;

export type Mutation =
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'duplicate'; readonly at: number }
  | { readonly kind: 'swap'; readonly at: number; readonly other: number }
  | { readonly kind: 'number'; readonly at: number; readonly value: string }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'nest'; readonly at: number; readonly depth: number; readonly open: '(' | '[' | '{' }
  | { readonly kind: 'repeatLine'; readonly at: number; readonly times: number };

interface Token {
  readonly start: number;
  readonly end: number;
  readonly number: boolean;
}

// The language's tokens, closely enough for mutating them: comments, strings,
// numbers with their units, names, multi-character operators, any other character.
const TOKEN = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"?|(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[A-Za-z/]*)|[A-Za-z_][A-Za-z0-9_]*|\.\.|<->|==|!=|<=|>=|\S/g;

export function tokensOf(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(TOKEN)) {
    if (match[0].startsWith('//') || match[0].startsWith('/*')) continue;
    tokens.push({ start: match.index, end: match.index + match[0].length, number: match[1] !== undefined });
  }
  return tokens;
}

export function applyMutation(text: string, mutation: Mutation): string {
  const tokens = tokensOf(text);
  if (tokens.length === 0) return mutation.kind === 'insert' ? mutation.text : text;
  const token = tokens[mutation.at % tokens.length];
  const before = text.slice(0, token.start);
  const image = text.slice(token.start, token.end);
  const after = text.slice(token.end);
  switch (mutation.kind) {
    case 'delete':
      return before + after;
    case 'duplicate':
      return `${before}${image} ${image}${after}`;
    case 'insert':
      return `${before}${mutation.text} ${image}${after}`;
    case 'number': {
      // Aim at a number: the first number token at or after the chosen one (keeping its unit).
      const numbers = tokens.filter((t) => t.number);
      if (numbers.length === 0) return text;
      const target = numbers[mutation.at % numbers.length];
      const unit = /[A-Za-z/]*$/.exec(text.slice(target.start, target.end))?.[0] ?? '';
      const keepUnit = unit !== '' && !/^[eE]/.test(unit) ? unit : '';
      return text.slice(0, target.start) + mutation.value + keepUnit + text.slice(target.end);
    }
    case 'nest': {
      const close = { '(': ')', '[': ']', '{': '}' }[mutation.open];
      return before + mutation.open.repeat(mutation.depth) + image + close.repeat(mutation.depth) + after;
    }
    case 'repeatLine': {
      const lineStart = text.lastIndexOf('\n', token.start) + 1;
      const lineEnd = text.indexOf('\n', token.start);
      const end = lineEnd < 0 ? text.length : lineEnd + 1;
      const line = text.slice(lineStart, end);
      return text.slice(0, lineStart) + (line.endsWith('\n') ? line : `${line}\n`).repeat(mutation.times) + text.slice(end);
    }
    case 'swap': {
      const other = tokens[mutation.other % tokens.length];
      const [a, b] = token.start <= other.start ? [token, other] : [other, token];
      if (a.start === b.start) return text;
      return text.slice(0, a.start) + text.slice(b.start, b.end) + text.slice(a.end, b.start) + text.slice(a.start, a.end) + text.slice(b.end);
    }
  }
}

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('number' as const), at: fc.nat(), value: fc.constantFrom(...EXTREME_NUMBERS) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('number' as const), at: fc.nat(), value: fc.constantFrom(...ORDINARY_NUMBERS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...VOCABULARY) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('nest' as const), at: fc.nat(), depth: fc.integer({ min: 1, max: 400 }), open: fc.constantFrom('(' as const, '[' as const, '{' as const) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeatLine' as const), at: fc.nat(), times: fc.integer({ min: 2, max: 300 }) }) },
);

/** One mutant: which seed program, and what was done to it (shrinks toward fewer, smaller changes). */
export interface Mutant {
  readonly seed: number;
  readonly mutations: readonly Mutation[];
}

/**
 * Programs that compile are picked four times as often as the wrong ones
 * (the golden diagnostics cases), so that enough mutants reach the
 * schedule, the IR and the simulator.
 */
export function mutantArbitrary(seeds: readonly SeedProgram[], maxMutations = 3): fc.Arbitrary<Mutant> {
  const compiling = seeds.map((_, index) => index).filter((index) => !seeds[index].file.startsWith('test/cases/'));
  const seed = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...compiling) },
    { weight: 1, arbitrary: fc.nat({ max: seeds.length - 1 }) },
  );
  return fc.record({ seed, mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: maxMutations, size: 'xsmall' }) });
}

export function mutantText(seeds: readonly SeedProgram[], mutant: Mutant): string {
  return mutant.mutations.reduce(applyMutation, seeds[mutant.seed].text);
}

// ───────────────────────────── one program ─────────────────────────────

export interface ProgramReport {
  readonly findings: readonly Finding[];
  /** Milliseconds per phase (parse+check, schedule, lower, verify, simulate). */
  readonly phaseMs: Readonly<Record<string, number>>;
  /** The compilation reached verified streams without errors. */
  readonly valid: boolean;
  readonly compilation?: Compilation;
}

export interface ExamineOptions {
  /** A phase that takes longer than this is a finding (default: never; unit tests assert no wall time). */
  readonly slowMs?: number;
}

/** A host over the repository's files where `entry` reads as `text` (so imports and extern layers resolve). */
export function mutantHost(entry: string, text: string): CompilerHost {
  return createReaderHost((file) => {
    if (file === entry) return text;
    try {
      const absolute = path.resolve(REPOSITORY_ROOT, file);
      return statSync(absolute).isFile() ? readFileSync(absolute, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  });
}

// A hole: a placeholder left in the text, a value that was never there.
const HOLE = /\bundefined\b|\bNaN\b|\bnull\b|-?\bInfinity\b|\{\w+\}|''|\[object Object\]/;

/** A hole, not counting a quoted name the user wrote (`unknown name 'NaN'` echoes the source). */
function hasHole(message: string, sources: ReadonlyMap<string, string>): boolean {
  const unquoted = message.replace(/'([^']+)'/g, (whole, quoted: string) => ([...sources.values()].some((text) => text.includes(quoted)) ? "'…'" : whole));
  return HOLE.test(unquoted);
}

function diagnosticFindings(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>): Finding[] {
  const findings: Finding[] = [];
  for (const d of diagnostics) {
    const text = sources.get(d.span.file);
    const where = `${d.code} ${d.message.slice(0, 120)}`;
    if (text === undefined || d.span.start < 0 || d.span.end < d.span.start || d.span.end > text.length) {
      findings.push({ kind: 'unlocated', detail: `${where} (span ${d.span.file}:${d.span.start}-${d.span.end} outside its file)` });
    } else if (d.span.start === 0 && !d.code.startsWith('PIPE1') && (d.span.end === 0 || d.related.some((related) => related.span.start > 0))) {
      // A zero-width span at 1:1, or 1:1 while a related span is elsewhere, is where a
      // diagnostic lands when nobody gave it its construct.
      findings.push({ kind: 'unlocated', detail: `${where} (at 1:1)` });
    }
    if (hasHole(d.message, sources) || (d.hint !== undefined && hasHole(d.hint, sources)) || d.message.trim() === '') {
      findings.push({ kind: 'hole', detail: `${d.code} ${d.message.slice(0, 160)}${d.hint ? ` · hint: ${d.hint.slice(0, 80)}` : ''}` });
    }
  }
  return findings;
}

/** The first path to a non-finite number inside a value (objects, arrays, maps), or undefined. */
export function findNonFinite(value: unknown, where = '', seen = new Set<object>()): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${where || '/'} = ${value}`;
  if (value === null || typeof value !== 'object' || seen.has(value)) return undefined;
  seen.add(value);
  const entries: Iterable<[unknown, unknown]> = value instanceof Map ? value.entries() : Array.isArray(value) ? value.entries() : Object.entries(value);
  for (const [key, child] of entries) {
    const found = findNonFinite(child, `${where}/${String(key)}`, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

function timed<T>(phaseMs: Record<string, number>, phase: string, run: () => T): T {
  const started = performance.now();
  try {
    return run();
  } finally {
    phaseMs[phase] = (phaseMs[phase] ?? 0) + performance.now() - started;
  }
}

/** Runs one program through every phase and the simulator, and says which promises it broke. */
export function examineProgram(entry: string, text: string, options: ExamineOptions = {}): ProgramReport {
  const phaseMs: Record<string, number> = {};
  const findings: Finding[] = [];
  let compilation: Compilation | undefined;
  let phase = 'check';
  try {
    const host = mutantHost(entry, text);
    let current: Compilation = timed(phaseMs, 'check', () => compileFile(entry, host, { until: 'check', readExternModule }));
    compilation = current;
    for (const next of ['schedule', 'lower', 'verify'] as const) {
      phase = next;
      const before: Compilation = current;
      current = timed(phaseMs, next, () => continueCompilation(before, next));
      compilation = current;
    }
    findings.push(...diagnosticFindings(current.diagnostics, current.sources));
    const valid = current.stop === undefined && !current.diagnostics.some((d) => d.severity === 'error') && current.ir !== undefined;
    if (valid) {
      const ir = current.ir!;
      const nonFinite = findNonFinite(ir);
      if (nonFinite !== undefined) findings.push({ kind: 'non-finite', detail: `IR ${nonFinite}` });
      const validation = validateIr(JSON.parse(JSON.stringify(ir)));
      if (!validation.valid) findings.push({ kind: 'schema', detail: validation.errors.slice(0, 2).join('; ') });
      phase = 'simulate';
      const done = current;
      const simulated = timed(phaseMs, 'simulate', () => simulateCompilation(done));
      if (simulated !== undefined) {
        const simulationNonFinite = findNonFinite({ makespan: simulated.result.makespan, bubble: simulated.result.bubble, devices: simulated.result.devices });
        if (simulationNonFinite !== undefined) findings.push({ kind: 'non-finite', detail: `simulation ${simulationNonFinite}` });
        if (simulated.result.stuck.length > 0) {
          const stuck = simulated.result.stuck[0];
          findings.push({ kind: 'disagreement', detail: `compiles, but device ${stuck.device} is stuck at ${stuck.instruction.op} waiting for ${stuck.waitsFor}` });
        }
      }
    }
    if (options.slowMs !== undefined) {
      for (const [name, ms] of Object.entries(phaseMs)) if (ms > options.slowMs) findings.push({ kind: 'slow', detail: `${name} took ${(ms / 1000).toFixed(1)} s` });
    }
    return { findings, phaseMs, valid, compilation };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const frame = error instanceof Error ? (error.stack ?? '').split('\n').find((line) => line.includes('/compiler/') || line.includes('/grammar/'))?.trim() : undefined;
    findings.push({ kind: 'exception', detail: `${phase}: ${message.slice(0, 200)}${frame ? ` ${frame}` : ''}` });
    return { findings, phaseMs, valid: false, compilation };
  }
}

/** A finding's identity for deduplication: kind, code or exception class, and the message without numbers or names. */
export function findingKey(finding: Finding): string {
  return `${finding.kind}:${finding.detail.replace(/'[^']*'/g, "'…'").replace(/\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').slice(0, 80)}`;
}
