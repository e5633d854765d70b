// Syntax diagnostics (PIPE1xxx). One table, so docs/diagnostics.md and the
// tests can enumerate every code.

import type { MessageDefinition } from './diagnostic.ts';

function syntaxError(code: string, template: string, summary: string): MessageDefinition {
  return { code, severity: 'error', template, summary };
}

export const syntaxMessages = {
  unexpectedCharacter: syntaxError(
    'PIPE1001',
    "unexpected character '{character}'",
    'A character that starts no token of the language.',
  ),
  unterminatedString: syntaxError(
    'PIPE1002',
    'this string is missing its closing \'"\'',
    'A string literal runs into the end of its line.',
  ),
  unterminatedComment: syntaxError(
    'PIPE1003',
    "this comment is missing its closing '*/'",
    'A /* block comment */ runs into the end of the file.',
  ),
  expectedToken: syntaxError(
    'PIPE1004',
    'expected {expected}{after}, found {found}',
    'A required token is missing or a different one was written.',
  ),
  unexpectedToken: syntaxError(
    'PIPE1005',
    'expected {expected}{after}, found {found}',
    'None of the forms allowed at this point starts with the token found.',
  ),
  unexpectedAtTopLevel: syntaxError(
    'PIPE1006',
    'expected {expected}, found {found}',
    'Text at the top level that starts no declaration.',
  ),
  unknownAction: syntaxError(
    'PIPE1007',
    "unknown action '{name}'; an action is F (forward), B (backward), I (input gradient) or W (weight gradient)",
    'An action or priority term whose letter is not F, B, I or W.',
  ),
  invalidEscape: syntaxError(
    'PIPE1008',
    "unknown escape '\\{character}' in a string",
    'A backslash escape other than \\n, \\t, \\r, \\\\, \\" or \\u{...}.',
  ),
  detachedUnit: syntaxError(
    'PIPE1009',
    "a unit is written right after its number: '{number}{unit}', not '{number} {unit}'",
    'A number followed by a space and a unit (16 GiB instead of 16GiB).',
  ),
  missingLayerComma: syntaxError(
    'PIPE1010',
    "missing ',' between the layers '{previous}' and '{next}'",
    'Two layers of a stage written side by side on one line without a comma.',
  ),
  missingOn: syntaxError(
    'PIPE1011',
    "missing 'on' before the device '{device}' of stage '{stage}'",
    'A stage whose device is written without the word on.',
  ),
} as const satisfies Record<string, MessageDefinition>;

export const allSyntaxMessages: readonly MessageDefinition[] = Object.values(syntaxMessages);
