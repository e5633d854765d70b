// `pipec init`: the starter project checks clean, its editor settings point
// at the language server, and nothing a user has is overwritten without --force.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../cli/commands/check.ts';
import { runInit } from '../../cli/commands/init.ts';
import { runSimulate } from '../../cli/commands/simulate.ts';

const directory = mkdtempSync(path.join(tmpdir(), 'pipec-init-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('pipec init', () => {
  it('writes a program that checks clean and simulates, a README section and VS Code settings', () => {
    const project = path.join(directory, 'fresh', 'nested');
    const result = runInit(project);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain(`wrote ${path.join(project, 'train.pipe')}`);
    const program = path.join(project, 'train.pipe');
    const check = runCheck([program], { format: 'text', color: false });
    expect(check.output).toBe(`${program}: ok: pipeline train, 2 stages on 2 devices, schedule 1f1b\n`);
    expect(check.exitCode).toBe(0);
    expect(runSimulate({ file: program, format: 'text' }).exitCode).toBe(0);
    const readme = readFileSync(path.join(project, 'README.md'), 'utf8');
    expect(readme).toMatch(/^## /);
    expect(readme).toContain('npx pipec check train.pipe');
    const settings = JSON.parse(readFileSync(path.join(project, '.vscode', 'settings.json'), 'utf8'));
    expect(settings['files.associations']).toEqual({ '*.pipe': 'pipe' });
    expect(settings['pipec.path']).toBe('pipec');
    const extensions = JSON.parse(readFileSync(path.join(project, '.vscode', 'extensions.json'), 'utf8'));
    expect(extensions.recommendations).toEqual(['pipec.pipec-pipe']);
    // The settings and the recommendation name what the extension really declares.
    const manifest = JSON.parse(readFileSync(new URL('../../editors/vscode/package.json', import.meta.url), 'utf8'));
    expect(extensions.recommendations).toEqual([`${manifest.publisher}.${manifest.name}`]);
    const declared = Object.keys(manifest.contributes.configuration.properties);
    for (const key of Object.keys(settings).filter((key) => key.startsWith('pipec.'))) expect(declared).toContain(key);
    expect(manifest.contributes.languages.map((language: { id: string }) => language.id)).toContain('pipe');
  });

  it('refuses to overwrite, writing nothing, unless --force', () => {
    const project = path.join(directory, 'existing');
    runInit(project);
    const readme = path.join(project, 'README.md');
    writeFileSync(readme, '# my project\n');
    rmSync(path.join(project, 'train.pipe'));
    const refused = runInit(project);
    expect(refused.exitCode).toBe(1);
    expect(refused.errorOutput).toContain(`pipec: not writing the starter project: ${readme}, `);
    expect(refused.errorOutput).toContain('(--force overwrites)');
    // Not even the missing file was written.
    expect(() => readFileSync(path.join(project, 'train.pipe'))).toThrow();
    expect(readFileSync(readme, 'utf8')).toBe('# my project\n');
    const forced = runInit(project, { force: true });
    expect(forced.exitCode).toBe(0);
    expect(readFileSync(readme, 'utf8')).toContain('## Training pipeline');
  });

  it('runs as a command into the current folder', () => {
    const project = mkdtempSync(path.join(directory, 'cwd-'));
    const cli = path.resolve('bin/pipec.js');
    const result = spawnSync(process.execPath, [cli, 'init'], { cwd: project, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('wrote train.pipe');
    expect(result.stdout).toContain('next: pipec check train.pipe && pipec show train.pipe');
    expect(spawnSync(process.execPath, [cli, 'init'], { cwd: project }).status).toBe(1);
  });
});
