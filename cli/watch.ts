// `--watch` for check, simulate and show: run the command, then run it again
// whenever the file, a file it imports, or another input it read (--costs,
// --torch-csv) changes; clear the terminal and print afresh each time, and
// never exit on errors: a broken file is what one is editing. The files to
// watch are the ones the run itself read (io.ts records them), so a new
// import is watched from the next run on. Folders are watched rather than
// files because editors save by writing a new file and renaming it over the
// old one, which ends a watch on the file itself; a missing import is
// watched for until it appears. Changes are debounced: one save can be
// several events.

import { statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { takeExitCode } from './exitCode.ts';
import { recordFileReads } from './io.ts';

const DEBOUNCE_MS = 120;

export function addWatchOption(command: Command): Command {
  return command.option('-w, --watch', 're-run when the file or a file it imports changes; clears and reprints, Ctrl-C to stop');
}

/** Whether standard output is a terminal that can be cleared between runs. */
function clearable(): boolean {
  return process.stdout.isTTY === true;
}

/**
 * Runs `run` now and again after every change to what it read, forever
 * (until the process is stopped). `inputs` are files named on the command
 * line, watched even when the run never got to read them.
 */
export async function watchAndRerun(run: () => void | Promise<void>, inputs: readonly string[]): Promise<never> {
  for (let round = 1; ; round++) {
    if (clearable()) process.stdout.write('\x1b[2J\x1b[3J\x1b[H');
    else if (round > 1) process.stdout.write('\n');
    const stop = recordFileReads();
    const started = Date.now();
    try {
      await run();
    } catch (error) {
      // A broken internal invariant on one version of the file should not end the session.
      process.stderr.write(`pipec: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    const files = new Set([...inputs, ...stop()].filter((file) => !file.startsWith('std:')).map((file) => path.resolve(file)));
    const code = takeExitCode();
    // Said once the watches are in place, so an edit made on seeing it is never missed.
    const changed = await nextChange(files, started, () => {
      process.stderr.write(`pipec: watching ${files.size} file${files.size === 1 ? '' : 's'} (${code === 0 ? 'ok' : `exit ${code}`}); Ctrl-C to stop\n`);
    });
    const relative = path.relative(process.cwd(), changed);
    process.stderr.write(`pipec: ${relative === '' || relative.startsWith('..') ? changed : relative} changed\n`);
  }
}

/**
 * Resolves with the first of `files` to change (debounced), watching their
 * folders; `ready` runs once they are watched. A file saved while the run
 * was still going (after `since`) counts as changed at once.
 */
function nextChange(files: ReadonlySet<string>, since: number, ready: () => void): Promise<string> {
  return new Promise((resolve) => {
    const watchers: FSWatcher[] = [];
    let timer: NodeJS.Timeout | undefined;
    const folders = new Map<string, Set<string>>();
    for (const file of files) {
      const folder = path.dirname(file);
      if (!folders.has(folder)) folders.set(folder, new Set());
      folders.get(folder)!.add(path.basename(file));
    }
    const fire = (file: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        for (const watcher of watchers) watcher.close();
        resolve(file);
      }, DEBOUNCE_MS);
    };
    for (const [folder, names] of folders) {
      try {
        const watcher = watch(folder, (_event, name) => {
          const base = name === null ? undefined : path.basename(name.toString());
          if (base === undefined || names.has(base)) fire(path.join(folder, base ?? [...names][0]));
        });
        watcher.on('error', () => watcher.close());
        watchers.push(watcher);
      } catch {
        // A folder that does not exist (a mistyped import's): nothing to watch there yet.
      }
    }
    ready();
    for (const file of files) {
      try {
        if (statSync(file).mtimeMs >= since) fire(file);
      } catch {
        // Missing: its folder's watch will see it appear.
      }
    }
  });
}
