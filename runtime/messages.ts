// The runtime's failures (PIPE6xxx). Their codes and summaries are entries of
// the one diagnostics table (grammar/diagnosticMessages.ts, the only module
// outside the IR and cost contracts the runtime may import); RuntimeFault
// carries one through the async machinery to the edge (CLI or API caller).

import { diagnosticMessages, formatTemplate, messageByCode, type MessageDefinition } from '../grammar/diagnosticMessages.ts';

/** Where in the instruction streams a fault happened. */
export interface FaultLocation {
  /** The training step, 0-based (shown 1-based, as `pipec train` counts its steps), when known. */
  readonly step?: number;
  readonly device: number;
  readonly deviceName: string;
  readonly instruction?: number;
  readonly op?: string;
  readonly stage?: number;
  readonly microbatch?: number;
}

export function describeLocation(location: FaultLocation): string {
  const parts = [...(location.step === undefined ? [] : [`step ${location.step + 1}`]), `device ${location.deviceName} (#${location.device})`];
  if (location.instruction !== undefined) parts.push(`instruction ${location.instruction} ${location.op ?? ''}`.trimEnd());
  if (location.stage !== undefined) parts.push(`stage ${location.stage}`);
  if (location.microbatch !== undefined) parts.push(`microbatch ${location.microbatch}`);
  return parts.join(', ');
}

/** An entry of the runtime range: a compile-time code cannot be thrown as a fault. */
export type RuntimeMessageDefinition = MessageDefinition & { readonly code: `PIPE6${string}` };

export class RuntimeFault extends Error {
  /** e.g. 'PIPE6004' */
  readonly code: string;
  readonly location?: FaultLocation;

  /** `definition` is a 6xxx entry of diagnosticMessages, or its code as it came back from a worker. */
  constructor(definition: RuntimeMessageDefinition | string, detail: string, location?: FaultLocation) {
    const entry = typeof definition === 'string' ? messageByCode(definition) ?? diagnosticMessages.runtimeInternal : definition;
    super(`${entry.code}: ${location ? `${describeLocation(location)}: ` : ''}${formatTemplate(entry.template, { detail })}`);
    this.name = 'RuntimeFault';
    this.code = entry.code;
    this.location = location;
  }
}
