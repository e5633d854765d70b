// The VS Code extension's manifest holds together: the language it
// contributes uses the grammar and configuration files that exist, under
// the grammar's own scope name; comments and brackets are the language's;
// the client starts the `lsp` command this CLI has, with a configurable path.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main.ts';

const extension = fileURLToPath(new URL('../../editors/vscode/', import.meta.url));
const read = (file: string) => readFileSync(`${extension}${file}`, 'utf8');
const manifest = JSON.parse(read('package.json'));

describe('editors/vscode', () => {
  it('contributes the pipe language with its grammar and configuration', () => {
    const [language] = manifest.contributes.languages;
    expect(language).toMatchObject({ id: 'pipe', extensions: ['.pipe'] });
    expect(existsSync(`${extension}${language.configuration}`)).toBe(true);
    const [grammar] = manifest.contributes.grammars;
    expect(grammar.language).toBe('pipe');
    expect(JSON.parse(read(grammar.path)).scopeName).toBe(grammar.scopeName);
    expect(manifest.contributes.configuration.properties['pipec.path'].default).toBe('pipec');
    expect(manifest.main).toBe('./dist/extension.js');
  });

  it('comments, brackets and folding are the language\'s', () => {
    const configuration = JSON.parse(read('language-configuration.json'));
    expect(configuration.comments).toEqual({ lineComment: '//', blockComment: ['/*', '*/'] });
    expect(configuration.brackets).toEqual([['{', '}'], ['[', ']'], ['(', ')']]);
    expect(configuration.folding.markers.start).toBeDefined();
  });

  it('starts `pipec lsp`, a command the CLI has, and packs with vsce from its own dependencies', () => {
    expect(read('src/extension.ts')).toMatch(/const args = \['lsp'\]/);
    expect(buildProgram().commands.map((command) => command.name())).toContain('lsp');
    expect(Object.keys(manifest.devDependencies)).toEqual(expect.arrayContaining(['@vscode/vsce', 'vscode-languageclient', 'esbuild']));
    expect(manifest.scripts.package).toContain('vsce package');
    const root = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
    expect(root.scripts.vsix).toContain('editors/vscode');
    expect(Object.keys(root.dependencies)).not.toContain('vscode-languageclient');
  });
});
