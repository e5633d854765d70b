// The CLI's side of the machine: a CompilerHost over node:fs, reading the
// files a user names (with a one-line reason when that fails: missing, a
// folder, unreadable, not text), writing outputs (a missing folder is a
// one-line usage error, never a stack trace), colours, and the option
// parsers the commands share.

import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createReaderHost, type CompilerHost, type CostChoice } from '../compiler/index.ts';
import { DEFAULT_MAX_ERRORS } from './render.ts';

/** The files read, or tried, since recordFileReads began: what `--watch` watches. */
let filesRead: Set<string> | undefined;

/** Starts recording every file the CLI reads or tries to read (imports, costs, CSVs); the function returned stops and lists them. */
export function recordFileReads(): () => ReadonlySet<string> {
  const seen = new Set<string>();
  filesRead = seen;
  return () => {
    if (filesRead === seen) filesRead = undefined;
    return seen;
  };
}

/** Reads files relative to the working directory; imports resolve relative to the importing file. */
export function createNodeHost(): CompilerHost {
  return createReaderHost((file) => {
    filesRead?.add(file);
    try {
      return statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  }, followLinks);
}

/** The absolute path with links followed (for a missing file: its folder's, so a link cannot smuggle it out of the project). */
function followLinks(file: string): string {
  const absolute = path.resolve(file);
  try {
    return realpathSync(absolute);
  } catch {
    const folder = path.dirname(absolute);
    return folder === absolute ? absolute : path.join(followLinks(folder), path.basename(absolute));
  }
}

/** `--project-root DIR` and `--allow-read DIR`, the program-wide options every compiling command obeys. */
export interface ReadFlags {
  readonly projectRoot?: string;
  readonly allowRead?: readonly string[];
}

let readFlags: ReadFlags = {};

/** Set by cli/main.ts before a command runs. */
export function setReadFlags(flags: ReadFlags): void {
  readFlags = flags;
}

/**
 * Where an entry file's imports and extern modules may come from: its
 * project — the nearest folder above it that holds package.json or .git
 * (the repository it belongs to), else its own folder, or --project-root —
 * and every --allow-read folder.
 */
export function readOptionsFor(entryFile: string): { readonly projectRoot: string; readonly allowRead: readonly string[] } {
  return { projectRoot: readFlags.projectRoot ?? findProjectRoot(entryFile), allowRead: readFlags.allowRead ?? [] };
}

function findProjectRoot(entryFile: string): string {
  const own = path.dirname(path.resolve(entryFile));
  for (let folder = own; ; folder = path.dirname(folder)) {
    if (existsSync(path.join(folder, 'package.json')) || existsSync(path.join(folder, '.git'))) return folder;
    if (path.dirname(folder) === folder) return own;
  }
}

/** The one spelling of a user's file in diagnostics: normalised, relative as given. */
export function entryName(file: string): string {
  return path.normalize(file);
}

/** Why `file` cannot be read as text, or undefined when it can. */
export function unreadableReason(file: string): string | undefined {
  filesRead?.add(file);
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) return 'is a folder, not a file';
    if (!stat.isFile()) return 'is not a regular file';
    const text = readFileSync(file, 'utf8');
    if (text.includes('\u0000')) return 'is not a text file';
    return undefined;
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    if (code === 'ENOENT') return 'does not exist';
    if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
    return 'cannot be read';
  }
}

/** A user-named input file's text, or the one-line usage message (exit 2) saying why not. */
export function readInputFile(file: string): { readonly text: string } | { readonly error: string } {
  filesRead?.add(file);
  const reason = unreadableReason(file);
  if (reason !== undefined) return { error: `pipec: ${file} ${reason}\n` };
  return { text: readFileSync(file, 'utf8') };
}

function writeFailure(file: string, error: unknown): string {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  const reason = code === 'ENOENT' ? 'its folder does not exist'
    : code === 'EISDIR' ? 'it is a folder'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOTDIR' ? 'a part of its path is a file, not a folder'
    : error instanceof Error ? error.message : String(error);
  return `pipec: cannot write ${file}: ${reason}\n`;
}

/**
 * Why `file` could not be written, checked before a long run (train,
 * profile) so that an output in a missing folder is refused at once rather
 * than after the work: undefined when its folder exists.
 */
export function outputProblem(file: string | undefined): string | undefined {
  if (file === undefined || file === '-') return undefined;
  const folder = path.dirname(file);
  try {
    if (!statSync(folder).isDirectory()) return `pipec: cannot write ${file}: a part of its path is a file, not a folder\n`;
  } catch (error) {
    return writeFailure(file, error);
  }
  try {
    if (statSync(file).isDirectory()) return `pipec: cannot write ${file}: it is a folder\n`;
  } catch {
    // Not there yet: it will be created.
  }
  return undefined;
}

/** Why `folder` could not be created or written into (a file in the way), or undefined. */
export function folderProblem(folder: string): string | undefined {
  let existing = path.resolve(folder);
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) {
        return `pipec: cannot use the folder ${folder}: ${existing === path.resolve(folder) ? 'it is a file' : `${existing} is a file, not a folder`}\n`;
      }
      return undefined;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return undefined;
      existing = parent;
    }
  }
}

/** Writes a command's product to a file, or standard output for none or '-'. Returns the exit code: 2 when it cannot be written. */
export function writeOutput(file: string | undefined, text: string | Uint8Array): number {
  if (file === undefined || file === '-') {
    process.stdout.write(text);
    return 0;
  }
  try {
    writeFileSync(file, text);
    return 0;
  } catch (error) {
    process.stderr.write(writeFailure(file, error));
    return 2;
  }
}

/** Colours when the stream is a terminal, NO_COLOR is unset and --no-color was not given. */
export function useColor(flag: boolean | undefined, stream: NodeJS.WriteStream = process.stderr): boolean {
  return flag !== false && stream.isTTY === true && !process.env.NO_COLOR;
}

/** A commander argument parser for flags such as -p and -m. */
export const positiveInteger = (flag: string) => (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError(`${flag} must be a positive whole number, got '${value}'`);
  return number;
};

export const positiveNumber = (flag: string) => (value: string): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, got '${value}'`);
  return number;
};

export const nonNegativeNumber = (flag: string) => (value: string): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new InvalidArgumentError(`${flag} must be a number of at least 0, got '${value}'`);
  return number;
};

/** The cost flags every compiling command takes. */
export interface CostFlags {
  /** Measured costs file (`pipec profile`), for rule and auto schedules. */
  readonly costs?: string;
  /** Unit costs (F = I = W = 1, B = 2) instead of the derived ones. */
  readonly unit?: boolean;
  /** Uniform costs for bare pipelines: `F=1,I=1,W=1,C=0.5`. */
  readonly cost?: string;
}

/** The flags as the core's cost choice; reading --costs FILE here, at the edge. */
export function costChoice(flags: CostFlags): { readonly choice?: CostChoice } | { readonly error: string } {
  const given = [flags.costs !== undefined, flags.unit === true, flags.cost !== undefined].filter(Boolean).length;
  if (given > 1) return { error: 'pipec: give only one of --costs FILE, --unit and --cost SPEC\n' };
  if (flags.unit) return { choice: { kind: 'unit' } };
  if (flags.cost !== undefined) return { choice: { kind: 'uniform', spec: flags.cost } };
  if (flags.costs === undefined) return {};
  const read = readInputFile(flags.costs);
  if ('error' in read) return read;
  return { choice: { kind: 'measured', file: flags.costs, text: read.text } };
}

/** `--format` with its choices, and `--json` as the alias of `--format json` every command accepts. */
export function addFormatOptions(command: Command, choices: readonly string[], fallback: string, description = 'output format'): Command {
  command.addOption(new Option('--format <format>', description).choices([...choices]).default(fallback));
  if (choices.includes('json')) command.addOption(new Option('--json', 'the same as --format json').hideHelp());
  return command;
}

/** The format the user asked for, `--json` counting as `--format json`. */
export function chosenFormat<Format extends string>(options: { readonly format?: Format; readonly json?: boolean }, fallback: Format): Format {
  return options.json ? ('json' as Format) : options.format ?? fallback;
}

/** `--max-errors N` for every command that prints diagnostics. */
export function addMaxErrorsOption(command: Command): Command {
  return command.option('--max-errors <N>', `show at most N errors (default ${DEFAULT_MAX_ERRORS}); the rest are counted`, positiveInteger('--max-errors'));
}

/** The flags every command that compiles a FILE takes. */
export interface CompileFlags extends CostFlags {
  readonly pipeline?: string;
  readonly format: 'text' | 'json';
  readonly json?: boolean;
  readonly color: boolean;
  readonly maxErrors?: number;
}

/** Declares the CompileFlags options once for compile and export. */
export function addCompileOptions(command: Command): Command {
  command
    .option('--pipeline <name>', 'the pipeline to compile (default: the first in the file)')
    .option('--costs <file>', 'measured costs (from pipec profile) for rule-based and auto schedules')
    .option('--unit', 'unit costs (F=I=W=1, B=2) for rule-based and auto schedules, as pipec schedule uses', false)
    .option('--no-color', 'plain output without ANSI colours');
  return addMaxErrorsOption(addFormatOptions(command, ['text', 'json'], 'text', 'diagnostics format'));
}
