// "No file outside the placement module spells a placement's name": the
// compiler's sources never write 'loop', 'v', 'wave' or 'explicit' as a
// string, nor "placement loop" inside one, except compiler/placement.ts.
// Comments are not code and are skipped; a message names a placement by
// interpolating a kind it was given.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REGULAR_PLACEMENT_KINDS } from '../../compiler/placement.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PLACEMENT_MODULE = path.join('compiler', 'placement.ts');

/** Literals that are not placements although they read like one. */
const ALLOWED: readonly { readonly file: string; readonly text: string; readonly why: string }[] = [
  { file: path.join('compiler', 'schedule', 'contract.ts'), text: "stagesPerDevice: 'v'", why: 'the schedule parameter v (chunks per device), not the placement' },
];

function sources(folder: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, folder))) {
    const relative = path.join(folder, entry);
    if (statSync(path.join(root, relative)).isDirectory()) out.push(...sources(relative));
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(relative);
  }
  return out;
}

/** The code without comments, lines kept (strings are kept, so `'//'` inside one survives). */
function withoutComments(text: string): string {
  return text.replace(/("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (whole: string, literal: string | undefined) => literal ?? whole.replace(/[^\n]/g, ''));
}

describe('placement names', () => {
  const names = [...REGULAR_PLACEMENT_KINDS, 'explicit'];
  const quoted = new RegExp(`(['"\`])(${names.join('|')})\\1`);
  const phrase = new RegExp(`placement (${REGULAR_PLACEMENT_KINDS.join('|')})\\b`);

  it('appear only in compiler/placement.ts', () => {
    const offenders: string[] = [];
    for (const file of sources('compiler')) {
      // The generated standard library text is .pipe source: the language itself.
      if (file === PLACEMENT_MODULE || file === path.join('compiler', 'stdlib', 'text.ts')) continue;
      withoutComments(readFileSync(path.join(root, file), 'utf8')).split('\n').forEach((line, index) => {
        if (!quoted.test(line) && !phrase.test(line)) return;
        if (ALLOWED.some((allowed) => allowed.file === file && line.includes(allowed.text))) return;
        offenders.push(`${file}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the test would see a placement spelled elsewhere', () => {
    expect(quoted.test("if (kind === 'v') return;")).toBe(true);
    expect(phrase.test('hint: `use stages placement loop { ... }`')).toBe(true);
    expect(quoted.test(withoutComments("// kind 'loop' in a comment\nconst x = 1;"))).toBe(false);
  });
});
