// The `pipec` command line: commander wiring only. Each command lives in
// cli/commands/<name>.ts and exports `register(program)`; commands return
// their exit code through cli/exitCode.ts (0 clean, 1 errors found, 2 usage).

import { Command, CommanderError } from 'commander';
import { takeExitCode } from './exitCode.ts';
import { setReadFlags, type ReadFlags } from './io.ts';
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
import * as completion from './commands/completion.ts';
import * as init from './commands/init.ts';
import * as lsp from './commands/lsp.ts';

export interface CommandModule {
  register(program: Command): void;
}

const commands: readonly CommandModule[] = [
  init, check, format, compile, schedule, exportCommand, simulate, show, tune, train, profile, verify, backends, completion, lsp,
];


export function buildProgram(): Command {
  const program = new Command('pipec')
    .description('A declarative language for pipeline-parallel training: check, schedule, simulate and train .pipe programs')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run `pipec --help` for usage)')
    .option('--project-root <dir>', 'the project folder imports and extern layers must stay in (default: the nearest folder above the file with package.json or .git, else the file\'s own folder)')
    .option('--allow-read <dir>', 'also read imports and extern layers from this folder (repeatable)', (dir: string, dirs: string[] = []) => [...dirs, dir]);
  // Every command compiles under the same read access; set it before the command's action runs.
  program.hook('preAction', () => setReadFlags(program.opts<ReadFlags>()));
  for (const command of commands) command.register(program);
  return program;
}

/**
 * The last guard between a user's path and a stack trace: a file-system
 * error that escaped a command (each command checks its paths first) is one
 * line naming the path, exit 2. Anything else is pipec's own bug and keeps
 * its stack.
 */
function fileSystemFailure(error: unknown): string | undefined {
  if (!(error instanceof Error) || !('code' in error) || !('path' in error) || typeof error.path !== 'string') return undefined;
  const reasons: Record<string, string> = {
    ENOENT: 'it does not exist', EISDIR: 'it is a folder', ENOTDIR: 'a part of its path is a file, not a folder',
    EACCES: 'permission denied', EPERM: 'permission denied', EEXIST: 'it already exists', ENOSPC: 'no space left on the device',
    EROFS: 'the file system is read-only', EIO: 'an input/output error', ELOOP: 'too many symbolic links',
  };
  const reason = typeof error.code === 'string' ? reasons[error.code] : undefined;
  if (reason === undefined) return undefined;
  const action = 'syscall' in error && typeof error.syscall === 'string' && /^(open|read|stat|lstat|scandir|readlink)$/.test(error.syscall) ? 'read' : 'write';
  return `pipec: cannot ${action} ${error.path}: ${reason}\n`;
}

export async function main(argv: readonly string[]): Promise<number> {
  takeExitCode();
  setReadFlags({});
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    const failure = fileSystemFailure(error);
    if (failure !== undefined) {
      process.stderr.write(failure);
      return 2;
    }
    throw error;
  }
  return takeExitCode();
}
