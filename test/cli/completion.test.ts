// Shell completion: each script comes from the command definitions (every
// command and option appears, and a command added to the program appears
// too), each parses in its shell, and the bash one completes what a user
// types.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main.ts';
import { completionScript, SHELLS } from '../../cli/completion.ts';

const directory = mkdtempSync(path.join(tmpdir(), 'pipec-completion-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function hasShell(shell: string): boolean {
  return spawnSync(shell, ['-c', 'exit 0']).status === 0;
}

describe('pipec completion', () => {
  const program = buildProgram();

  it.each(SHELLS)('the %s script names every command, alias and visible option of the definitions', (shell) => {
    const script = completionScript(shell, program);
    for (const command of program.commands) {
      for (const word of [command.name(), ...command.aliases()]) expect(script, `${shell}: ${word}`).toContain(word);
      for (const option of command.options.filter((o) => !o.hidden)) {
        const long = option.long!;
        expect(script, `${shell}: ${command.name()} ${long}`).toContain(shell === 'fish' ? `-l ${long.slice(2)}` : long);
      }
    }
  });

  it.each(SHELLS)('the %s script follows the definitions: a new command and option appear in it', (shell) => {
    const extended = buildProgram();
    extended.command('frobnicate').description('a command made for this test').argument('<file>').option('--intensity <level>', 'how hard');
    const script = completionScript(shell, extended);
    expect(script).toContain('frobnicate');
    expect(script).toContain(shell === 'fish' ? '-l intensity' : '--intensity');
    expect(completionScript(shell, buildProgram())).not.toContain('frobnicate');
  });

  it('bash parses its script (bash -n)', () => {
    const file = path.join(directory, 'pipec.bash');
    writeFileSync(file, completionScript('bash', program));
    const result = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasShell('zsh'))('zsh parses its script (zsh -n; skipped where zsh is not installed)', () => {
    const file = path.join(directory, '_pipec');
    writeFileSync(file, completionScript('zsh', program));
    const result = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasShell('fish'))('fish parses its script (fish -n; skipped where fish is not installed)', () => {
    const file = path.join(directory, 'pipec.fish');
    writeFileSync(file, completionScript('fish', program));
    const result = spawnSync('fish', ['-n', file], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('bash completes commands, options, choices, schedule names and .pipe files', () => {
    const project = path.join(directory, 'project');
    mkdirSync(path.join(project, 'models'), { recursive: true });
    writeFileSync(path.join(project, 'train.pipe'), '');
    writeFileSync(path.join(project, 'notes.txt'), '');
    writeFileSync(path.join(project, 'costs.json'), '');
    const script = path.join(directory, 'pipec.bash');
    writeFileSync(script, completionScript('bash', program));
    const complete = (...words: string[]): string[] => {
      const line = ['pipec', ...words];
      const shellWords = line.map((word) => `'${word}'`).join(' ');
      const run = spawnSync('bash', ['-c', `source '${script}'; COMP_WORDS=(${shellWords}); COMP_CWORD=${line.length - 1}; _pipec; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: project, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return run.stdout.split('\n').filter((word) => word !== '').sort();
    };
    expect(complete('sh')).toEqual(['show']);
    expect(complete('show', '--sta')).toEqual(['--stage-numbers', '--stages-per-device']);
    expect(complete('show', '--format', '')).toEqual(['pdf', 'png', 'svg', 'text', 'trace']);
    expect(complete('simulate', '--schedule', 'zb')).toEqual(['zb_h1', 'zb_h2', 'zb_v']);
    expect(complete('schedule', 'dual')).toEqual(['dualpipe', 'dualpipe_v']);
    expect(complete('check', '')).toEqual(['models', 'train.pipe']);
    expect(complete('simulate', 'train.pipe', '--costs', '')).toEqual(['costs.json', 'models']);
    expect(complete('completion', '')).toEqual(['bash', 'fish', 'zsh']);
  });

  it('prints the script through the CLI, and refuses an unknown shell', () => {
    const ok = spawnSync(process.execPath, ['bin/pipec.js', 'completion', 'fish'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe(completionScript('fish', buildProgram()));
    const bad = spawnSync(process.execPath, ['bin/pipec.js', 'completion', 'tcsh'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.");
  });
});
