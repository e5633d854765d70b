// `pipec fmt FILE... [--write] [--check]`: the canonical formatter. Prints
// the formatted text by default, rewrites files with --write, and with
// --check only reports files that are not formatted (exit 1). A file with
// syntax errors is never rewritten: its errors are reported (exit 1).

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import pc from 'picocolors';
import type { Diagnostic } from '../../grammar/diagnostic.ts';
import { parse, printDocument } from '../../grammar/index.ts';
import { LineMap } from '../../grammar/source.ts';
import { setExitCode } from '../main.ts';

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
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      process.stderr.write(`pipec fmt: cannot read ${file}: ${(error as Error).message}\n`);
      code = Math.max(code, 2);
      continue;
    }
    const { document, diagnostics } = parse({ name: file, text });
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      process.stderr.write(renderDiagnostics(errors, text));
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
      if (formatted !== text) writeFileSync(file, formatted);
    } else {
      process.stdout.write(formatted);
    }
  }
  return code;
}

// A small local renderer until the shared one in cli/render.ts lands.
const { codeFrameColumns } = createRequire(import.meta.url)('@babel/code-frame') as {
  codeFrameColumns(
    text: string,
    location: { start: { line: number; column: number }; end?: { line: number; column: number } },
    options: { highlightCode?: boolean; message?: string },
  ): string;
};

function renderDiagnostics(diagnostics: readonly Diagnostic[], text: string): string {
  const lines = new LineMap(text);
  const color = process.stderr.isTTY === true;
  return diagnostics
    .map((diagnostic) => {
      const start = lines.locate(diagnostic.span.start);
      const end = lines.locate(diagnostic.span.end);
      const where = `${diagnostic.span.file}:${start.line}:${start.column}`;
      const label = `${diagnostic.severity} ${diagnostic.code}`;
      const head = `${where}: ${color ? pc.red(label) : label}: ${diagnostic.message}`;
      // @babel/code-frame columns are 1-based like ours; its end column is exclusive.
      const frame = codeFrameColumns(
        text,
        diagnostic.span.end > diagnostic.span.start ? { start, end } : { start },
        { highlightCode: color },
      );
      const hint = diagnostic.hint === undefined ? '' : `\n  hint: ${diagnostic.hint}`;
      return `${head}\n${frame}${hint}\n`;
    })
    .join('\n');
}
