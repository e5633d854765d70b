// `pipec backends [--format json]`: which TensorFlow.js backends this machine can
// run (each is tried with a tiny computation), with the reason for those
// that cannot. Exit 0 always: the answer is information, not an error.

import type { Command } from 'commander';
import pc from 'picocolors';
import { listBackends } from '../../runtime/index.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, chosenFormat } from '../io.ts';

export function register(program: Command): void {
  const command = program
    .command('backends')
    .description('list the TensorFlow.js backends this machine can run, and why the others cannot');
  addFormatOptions(command, ['text', 'json'], 'text')
    .action(async (options: { json?: boolean; format?: 'text' | 'json' }) => {
      const statuses = await listBackends();
      if (chosenFormat(options, 'text') === 'json') {
        process.stdout.write(`${JSON.stringify(statuses)}\n`);
      } else {
        for (const status of statuses) {
          const mark = status.available ? pc.green('available  ') : pc.yellow('unavailable');
          process.stdout.write(`${status.name.padEnd(11)} ${mark} ${status.detail}\n`);
        }
      }
      setExitCode(0);
    });
}
