// `pipec fmt FILE... [--write] [--check]`: the canonical formatter. Prints
// the formatted text by default, rewrites files with --write, and with
// --check only reports files that are not formatted (exit 1). A file with
// syntax errors is never rewritten: its errors are reported (exit 1).

import type { Command } from 'commander';
import { parse, printDocument } from '../../grammar/index.ts';
import { setExitCode } from '../exitCode.ts';
import { readInputFile, writeOutput } from '../io.ts';
import { renderDiagnostics } from '../render.ts';

interface FormatOptions {
  readonly write?: boolean;
  readonly check?: boolean;
}

export function register(program: Command): void {
  program
    .command('fmt')
    .alias('format')
    .description('format .pipe files canonically (prints to stdout unless --write or --check)')
    .argument('<files...>', '.pipe files to format')
    .option('-w, --write', 'rewrite the files in place')
    .option('-c, --check', 'only check: exit 1 if any file is not formatted')
    .action((files: string[], options: FormatOptions) => {
      setExitCode(formatFiles(files, options));
    });
}

/** Formats each file; returns the exit code (0 clean, 1 unformatted or syntax errors, 2 unreadable file or bad flags). */
export function formatFiles(files: readonly string[], options: FormatOptions): number {
  if (options.write && options.check) {
    process.stderr.write('pipec fmt: --write and --check cannot be used together\n');
    return 2;
  }
  let code = 0;
  for (const file of files) {
    const read = readInputFile(file);
    if ('error' in read) {
      process.stderr.write(read.error);
      code = Math.max(code, 2);
      continue;
    }
    const { text } = read;
    const { document, diagnostics } = parse({ name: file, text });
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      const color = process.stderr.isTTY === true;
      process.stderr.write(renderDiagnostics(errors, new Map([[file, text]]), { color, format: 'text' }));
      code = Math.max(code, 1);
      continue;
    }
    const formatted = printDocument(document, { text });
    if (options.check) {
      if (formatted !== text) {
        process.stdout.write(`${file}: not formatted\n`);
        code = Math.max(code, 1);
      }
    } else if (options.write) {
      if (formatted !== text) code = Math.max(code, writeOutput(file, formatted));
    } else {
      process.stdout.write(formatted);
    }
  }
  return code;
}
