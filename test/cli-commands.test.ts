import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';

// Every CLI command module must be real: placeholders exist only while a
// command is being written and must never land.
describe('cli commands', () => {
  for (const file of readdirSync(new URL('../cli/commands/', import.meta.url))) {
    it(`${file} is implemented`, async () => {
      const module = await import(`../cli/commands/${file}`);
      expect(module.placeholder).toBeUndefined();
    });
  }
});
