// The runtime's diagnostics (6xxx). Runtime failures are reported as data
// like every other phase's diagnostics; RuntimeFault carries one through
// the async machinery to the edge (CLI or API caller).

export interface RuntimeMessage {
  readonly code: number;
  readonly title: string;
}

export const runtimeMessages = {
  workerFailed: { code: 6001, title: 'a device worker threw' },
  workerExited: { code: 6002, title: 'a device worker exited unexpectedly' },
  workerHung: { code: 6003, title: 'a device made no progress within the timeout' },
  nonFinite: { code: 6004, title: 'NaN or Inf appeared' },
  deadlock: { code: 6005, title: 'every device waits for a message that is never sent' },
  slotMisuse: { code: 6006, title: 'an instruction found its buffer slot in an unexpected state' },
  backendUnavailable: { code: 6007, title: 'the requested backend cannot run here' },
  dataMismatch: { code: 6008, title: 'the data source does not fit the model' },
  checkpointInvalid: { code: 6009, title: 'the checkpoint is missing, corrupt or from another program' },
  gradientMismatch: { code: 6010, title: 'pipelined gradients differ from single-device gradients' },
  externLayer: { code: 6011, title: 'an extern layer module could not be used' },
  internal: { code: 6099, title: 'internal runtime error' },
} as const satisfies Record<string, RuntimeMessage>;

export type RuntimeMessageName = keyof typeof runtimeMessages;

/** Where in the instruction streams a fault happened. */
export interface FaultLocation {
  readonly device: number;
  readonly deviceName: string;
  readonly instruction?: number;
  readonly op?: string;
  readonly stage?: number;
  readonly microbatch?: number;
}

export function describeLocation(location: FaultLocation): string {
  const parts = [`device ${location.deviceName} (#${location.device})`];
  if (location.instruction !== undefined) parts.push(`instruction ${location.instruction} ${location.op ?? ''}`.trimEnd());
  if (location.stage !== undefined) parts.push(`stage ${location.stage}`);
  if (location.microbatch !== undefined) parts.push(`microbatch ${location.microbatch}`);
  return parts.join(', ');
}

export class RuntimeFault extends Error {
  readonly code: number;
  readonly location?: FaultLocation;

  constructor(message: RuntimeMessage, detail: string, location?: FaultLocation) {
    super(`PIPE${message.code}: ${location ? `${describeLocation(location)}: ` : ''}${detail}`);
    this.name = 'RuntimeFault';
    this.code = message.code;
    this.location = location;
  }
}
