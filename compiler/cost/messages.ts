// Diagnostics of costs files (`--costs FILE`, written by `pipec profile`).
// They sit in the 5xxx range (lowering and memory inputs), 51xx block.

import type { MessageDefinition } from '../../grammar/diagnostic.ts';

function error(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'error', template, summary };
}

export const costMessages = {
  costsNotJson: error(5101, 'the costs file is not valid JSON: {detail}', 'A costs file that does not parse as JSON.'),
  costsSchema: error(5102, 'costs file: {path} {detail}', 'A costs file that does not match its JSON Schema (docs/costs.md).'),
  costsStageCount: error(5103, 'the costs file describes {given} stages but the pipeline has {expected}', 'A costs file measured on another stage split.'),
  costsStageIndex: error(5104, 'stage {stage} appears {count} times in the costs file; every stage 0..{last} must appear exactly once', 'A costs file with missing or repeated stages.'),
  costsBackwardMismatch: error(5105, 'stage {stage}: backward {backward} is not backwardInput + backwardWeight ({sum})', 'A costs file whose fused backward disagrees with its split parts.'),
} as const satisfies Record<string, MessageDefinition>;
