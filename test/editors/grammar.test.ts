// The VS Code extension's TextMate grammar (editors/vscode/syntaxes), tested
// two ways: vscode-tmgrammar-test runs the scope assertions written under
// editors/vscode/test/, and every sample is tokenised with the same engine
// (vscode-textmate, which that tool runs) and held to the compiler's own
// lexer: each keyword, comment, string and number the lexer finds is
// coloured as one, and the grammar knows every keyword the lexer knows.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KEYWORD_WORDS, lexicalTokens, type LexicalClass } from '../../grammar/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const grammarFile = `${root}editors/vscode/syntaxes/pipe.tmLanguage.json`;
// The engine vscode-tmgrammar-test itself runs, resolved from it.
const fromTool = createRequire(createRequire(import.meta.url).resolve('vscode-tmgrammar-test/package.json'));
const textmate = fromTool('vscode-textmate') as typeof import('vscode-textmate');
const oniguruma = fromTool('vscode-oniguruma') as typeof import('vscode-oniguruma');

async function loadGrammar() {
  const wasm = readFileSync(fromTool.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns), createOnigString: (text) => new oniguruma.OnigString(text) }),
    loadGrammar: async (scopeName) => (scopeName === 'source.pipe' ? textmate.parseRawGrammar(readFileSync(grammarFile, 'utf8'), grammarFile) : null),
  });
  return (await registry.loadGrammar('source.pipe'))!;
}

/** Each character's innermost scopes, line by line. */
function scopesOf(grammar: Awaited<ReturnType<typeof loadGrammar>>, text: string): string[][][] {
  let state = textmate.INITIAL;
  return text.split('\n').map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    const perCharacter: string[][] = [];
    for (const token of result.tokens) for (let c = token.startIndex; c < token.endIndex; c++) perCharacter[c] = token.scopes;
    return perCharacter;
  });
}

const EXPECTED: Readonly<Partial<Record<LexicalClass, RegExp>>> = {
  keyword: /^(storage\.|keyword\.|constant\.language\.)/,
  comment: /^comment\./,
  string: /^string\./,
  number: /^(constant\.numeric\.|keyword\.other\.unit\.)/,
};

describe('the TextMate grammar', () => {
  it('passes the scope assertions under editors/vscode/test (vscode-tmgrammar-test)', () => {
    const run = spawnSync(process.execPath, [createRequire(import.meta.url).resolve('vscode-tmgrammar-test/dist/unit.js'), '-g', grammarFile, 'editors/vscode/test/*.test.pipe'], { cwd: root, encoding: 'utf8' });
    expect(run.stdout + run.stderr).not.toContain('failed');
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('declarations.test.pipe run successfuly');
  });

  it('colours every sample the way the compiler\'s lexer reads it', async () => {
    const grammar = await loadGrammar();
    const samples = readdirSync(`${root}samples`).filter((file) => file.endsWith('.pipe'));
    expect(samples.length).toBeGreaterThanOrEqual(5);
    const wrong: string[] = [];
    let checked = 0;
    for (const sample of samples) {
      const text = readFileSync(`${root}samples/${sample}`, 'utf8');
      const scopes = scopesOf(grammar, text);
      const lineStarts = [0, ...[...text.matchAll(/\n/g)].map((match) => match.index! + 1)];
      for (const token of lexicalTokens(text)) {
        const expected = EXPECTED[token.class];
        if (expected === undefined) continue;
        const line = lineStarts.findLastIndex((start) => start <= token.start);
        const stack = scopes[line][token.start - lineStarts[line]] ?? ['source.pipe'];
        checked++;
        if (!stack.some((scope) => expected.test(scope))) wrong.push(`${sample}:${line + 1}: ${token.class} '${text.slice(token.start, token.end)}' is ${stack.join(' ')}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  });

  it('knows every keyword of the lexer', async () => {
    const grammar = await loadGrammar();
    const unknown = KEYWORD_WORDS.filter((word) => {
      const [scopes] = scopesOf(grammar, `  ${word} x`);
      return !(scopes[2] ?? []).some((scope) => EXPECTED.keyword!.test(scope));
    });
    expect(unknown).toEqual([]);
  });
});
