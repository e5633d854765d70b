// `pipec init [DIR] [--force]`: writes a starter project (cli/starterProject.ts)
// into DIR (default: here), creating DIR and .vscode/ as needed. It refuses,
// writing nothing, when any of its files already exists, unless --force.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { setExitCode } from '../exitCode.ts';
import { STARTER_FILES, STARTER_PROGRAM } from '../starterProject.ts';

export interface InitResult {
  readonly output: string;
  readonly errorOutput: string;
  readonly exitCode: number;
}

export function register(program: Command): void {
  program
    .command('init')
    .description(`write a starter project: ${STARTER_PROGRAM}, a README section and VS Code settings (never overwrites without --force)`)
    .argument('[dir]', 'the project folder (default: the current one; created if missing)')
    .option('-f, --force', 'overwrite files that already exist')
    .action((dir: string | undefined, options: { force?: boolean }) => {
      const result = runInit(dir ?? '.', options);
      if (result.output !== '') process.stdout.write(result.output);
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
    });
}

export function runInit(dir: string, options: { readonly force?: boolean } = {}): InitResult {
  const targets = STARTER_FILES.map((file) => ({ ...file, where: path.join(dir, ...file.path.split('/')) }));
  const existing = targets.filter((target) => existsSync(target.where));
  if (existing.length > 0 && !options.force) {
    return {
      output: '',
      errorOutput: `pipec: not writing the starter project: ${existing.map((target) => target.where).join(', ')} already exist${existing.length === 1 ? 's' : ''} (--force overwrites)\n`,
      exitCode: 1,
    };
  }
  const written: string[] = [];
  for (const target of targets) {
    try {
      mkdirSync(path.dirname(target.where), { recursive: true });
      writeFileSync(target.where, target.text);
      written.push(target.where);
    } catch (error) {
      const reason = error instanceof Error && 'code' in error && error.code === 'EACCES' ? 'permission denied' : error instanceof Error ? error.message : String(error);
      return { output: written.map((file) => `wrote ${file}\n`).join(''), errorOutput: `pipec: cannot write ${target.where}: ${reason}\n`, exitCode: 2 };
    }
  }
  const program = path.join(dir, STARTER_PROGRAM);
  return {
    output: `${written.map((file) => `wrote ${file}`).join('\n')}\nnext: pipec check ${program} && pipec show ${program}\n`,
    errorOutput: '',
    exitCode: 0,
  };
}
