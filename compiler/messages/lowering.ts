// Diagnostics of lowering and memory (5xxx).

import type { MessageDefinition } from '../../grammar/diagnostic.ts';

function error(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'error', template, summary };
}

export const loweringMessages = {
  outOfMemory: error(5001, 'device {device} ({name}) needs {needed} at its peak but has {capacity}: {breakdown}', 'Predicted peak memory of a device exceeds its capacity.'),
  autoScheduleFailed: error(5003, 'the automatic scheduler failed: {detail}', 'The automatic scheduler could not produce a schedule.'),
  stageCountMismatch: error(5004, 'the schedule has {scheduled} stages but the pipeline has {declared}', 'A schedule built for another pipeline shape.'),
  unknownScheduleUse: error(5005, "schedule '{name}' is neither declared nor built in", 'The pipeline names a schedule that cannot be found.'),
  memoryReferenceUnusable: error(5007, "the memory limit names activations({name}), but '{name}' cannot run this pipeline: {reason}", 'The schedule whose activations set an auto memory limit cannot run the pipeline.'),
  invalidIr: error(5006, 'internal: the emitted IR does not match its schema: {detail}', 'The emitted IR fails its JSON Schema (a compiler bug).'),
} as const satisfies Record<string, MessageDefinition>;
