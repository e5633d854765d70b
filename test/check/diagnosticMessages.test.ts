// The one diagnostics table (grammar/diagnosticMessages.ts): codes are unique
// and in their range, and every template renders without holes when each of
// its placeholders gets a value, which is what a call site passes (the
// types of makeDiagnostic require exactly those names).

import { describe, expect, test } from 'vitest';
import { makeDiagnostic } from '../../grammar/diagnostic.ts';
import { allDiagnosticMessages, diagnosticMessages, formatTemplate, messageByCode, messagesInRange } from '../../grammar/diagnosticMessages.ts';
import type { MessageDefinition } from '../../grammar/diagnosticMessages.ts';
import { RuntimeFault } from '../../runtime/messages.ts';

const span = { file: 'm.pipe', start: 0, end: 0 };

function placeholders(text: string | undefined): string[] {
  return [...(text ?? '').matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
}

function dummyArguments(definition: MessageDefinition): Record<string, string> {
  return Object.fromEntries([...placeholders(definition.template), ...placeholders(definition.hint)].map((key) => [key, `<${key}>`]));
}

describe('the diagnostics table', () => {
  test('every code is PIPE and four digits, in ranges 1xxx to 6xxx, and appears once', () => {
    const codes = allDiagnosticMessages.map((definition) => definition.code);
    expect(codes.filter((code) => !/^PIPE[1-6]\d{3}$/.test(code))).toEqual([]);
    expect(new Set(codes).size).toBe(codes.length);
    expect([1, 2, 3, 4, 5, 6].map((range) => messagesInRange(range).length).reduce((a, b) => a + b)).toBe(codes.length);
  });

  test('every entry has a summary sentence for the docs', () => {
    expect(allDiagnosticMessages.filter((definition) => !/^[A-Z`].*[.)]$/.test(definition.summary)).map((d) => d.code)).toEqual([]);
  });

  for (const definition of allDiagnosticMessages) {
    test(`${definition.code} renders with no unfilled placeholder`, () => {
      const diagnostic = makeDiagnostic(definition, span, dummyArguments(definition));
      for (const text of [diagnostic.message, diagnostic.hint ?? '']) {
        expect(text).not.toMatch(/\{\w*\}|undefined/);
      }
      expect(diagnostic).toMatchObject({ code: definition.code, severity: definition.severity });
    });
  }

  test('ranges in messages are written inclusively (0–2), never as a half-open 0..3 the reader takes as inclusive', () => {
    // A range quoted as the user wrote it (`{from}..{to}`) is source syntax, not a description.
    const halfOpen = allDiagnosticMessages.filter((definition) => /\.\.\{|\}\.\./.test(`${definition.template} ${definition.hint ?? ''}`.replace(/`[^`]*`/g, '')));
    expect(halfOpen.map((definition) => `${definition.code}: ${definition.template}`)).toEqual([]);
  });

  test('a placeholder without a value fails loudly under test (users would see the raw {name})', () => {
    expect(() => formatTemplate("unknown model '{name}'", {})).toThrow(/no value for \{name\}/);
    expect(() => formatTemplate("unknown model '{name}'", { name: undefined as unknown as string })).toThrow(/no value for \{name\}/);
  });

  test('a call site hint replaces the default hint; related spans are kept', () => {
    const related = [{ span, message: 'here' }];
    const diagnostic = makeDiagnostic(diagnosticMessages.unknownModel, span, { name: 'm' }, { hint: 'did you mean n?', related });
    expect(diagnostic).toEqual({ code: 'PIPE2002', severity: 'error', message: "unknown model 'm'", span, hint: 'did you mean n?', related });
  });

  test('runtime faults use the same entries, by entry or by the code that came back from a worker', () => {
    const fault = new RuntimeFault(diagnosticMessages.nonFinite, 'loss is NaN');
    expect(fault.message).toBe('PIPE6004: loss is NaN');
    expect(new RuntimeFault(fault.code, 'again').code).toBe('PIPE6004');
    expect(messageByCode(6004)).toBe(diagnosticMessages.nonFinite);
  });
});
