// The `pipec` command line: commander wiring only. Each command lives in
// cli/commands/<name>.ts and exports `register(program)`; commands return
// their exit code through cli/exitCode.ts (0 clean, 1 errors found, 2 usage).

import { Command, CommanderError } from 'commander';
import { takeExitCode } from './exitCode.ts';
import * as check from './commands/check.ts';
import * as format from './commands/format.ts';
import * as compile from './commands/compile.ts';
import * as schedule from './commands/schedule.ts';
import * as exportCommand from './commands/export.ts';
import * as simulate from './commands/simulate.ts';
import * as show from './commands/show.ts';
import * as tune from './commands/tune.ts';
import * as train from './commands/train.ts';
import * as profile from './commands/profile.ts';
import * as verify from './commands/verify.ts';
import * as backends from './commands/backends.ts';
import * as lsp from './commands/lsp.ts';

export interface CommandModule {
  register(program: Command): void;
}

const commands: readonly CommandModule[] = [
  check, format, compile, schedule, exportCommand, simulate, show, tune, train, profile, verify, backends, lsp,
];


export function buildProgram(): Command {
  const program = new Command('pipec')
    .description('A declarative language for pipeline-parallel training: check, schedule, simulate and train .pipe programs')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run `pipec --help` for usage)');
  for (const command of commands) command.register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  takeExitCode();
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  return takeExitCode();
}
