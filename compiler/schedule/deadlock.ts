// The deadlock proof: execute the lowered instruction streams abstractly
// under the channel contract of compiler/ir/types.ts — sends never block and
// deposit a tagged message; a receive blocks until the message with its tag
// (kind, stage, microbatch) from its peer is there. Every device runs until
// it blocks; a send wakes the device waiting for exactly that tag. When
// nothing can run and some stream is unfinished, the streams deadlock, and
// the stuck devices with what they wait for are the proof's counterexample.
// Because the contract makes each device's progress depend only on which
// messages exist (never on timing), this one abstract execution covers every
// real interleaving: if it finishes, every execution finishes.

import type { Instruction } from '../ir/types.ts';

export interface StreamsToProve {
  readonly devices: readonly { readonly rank: number; readonly instructions: readonly Instruction[] }[];
}

export interface StuckStream {
  readonly device: number;
  /** Index of the blocked instruction in the device's stream. */
  readonly step: number;
  readonly instruction: Instruction;
  /** e.g. "activation of stage 2, microbatch 3 from device 1". */
  readonly waitsFor: string;
}

export interface DeadlockProof {
  readonly deadlockFree: boolean;
  readonly stuck: readonly StuckStream[];
  /** Instructions each device completed before the run stopped. */
  readonly completed: readonly number[];
  /** The last few compute instructions each device completed (the partial timeline). */
  readonly timeline: readonly (readonly string[])[];
  /** Messages sent but never received (a lowering bug when non-empty). */
  readonly unreceived: readonly string[];
}

const TIMELINE_TAIL = 6;

/** Message key: the receiving stage and microbatch and the kind. */
function messageKey(kind: 'act' | 'grad', stage: number, microbatch: number, from: number, to: number): string {
  return `${kind}:${stage}:${microbatch}:${from}>${to}`;
}

export function proveDeadlockFree(streams: StreamsToProve): DeadlockProof {
  const devices = streams.devices;
  const mailbox = new Map<string, number>();
  const waiting = new Map<string, number>();
  const position = new Int32Array(devices.length);
  const timeline: string[][] = devices.map(() => []);
  const worklist: number[] = devices.map((_, index) => index).reverse();
  const blockedOn: (string | undefined)[] = devices.map(() => undefined);

  while (worklist.length > 0) {
    const index = worklist.pop()!;
    const { rank, instructions } = devices[index];
    blockedOn[index] = undefined;
    while (position[index] < instructions.length) {
      const instruction = instructions[position[index]];
      const microbatch = instruction.microbatch ?? -1;
      if (instruction.op === 'recv_act' || instruction.op === 'recv_grad') {
        const key = messageKey(instruction.op === 'recv_act' ? 'act' : 'grad', instruction.stage, microbatch, instruction.peer ?? -1, rank);
        const count = mailbox.get(key) ?? 0;
        if (count === 0) {
          blockedOn[index] = key;
          waiting.set(key, index);
          break;
        }
        if (count === 1) mailbox.delete(key);
        else mailbox.set(key, count - 1);
      } else if (instruction.op === 'send_act' || instruction.op === 'send_grad') {
        const forward = instruction.op === 'send_act';
        const key = messageKey(forward ? 'act' : 'grad', instruction.stage + (forward ? 1 : -1), microbatch, rank, instruction.peer ?? -1);
        mailbox.set(key, (mailbox.get(key) ?? 0) + 1);
        const waiter = waiting.get(key);
        if (waiter !== undefined) {
          waiting.delete(key);
          if (waiter !== index) worklist.push(waiter);
        }
      } else if (isCompute(instruction.op)) {
        const tail = timeline[index];
        tail.push(`${instruction.op} s${instruction.stage}${instruction.microbatch === undefined ? '' : ` mb${instruction.microbatch}`}`);
        if (tail.length > TIMELINE_TAIL) tail.shift();
      }
      position[index]++;
    }
  }

  const stuck: StuckStream[] = [];
  devices.forEach((device, index) => {
    if (position[index] >= device.instructions.length) return;
    const instruction = device.instructions[position[index]];
    const kind = instruction.op === 'recv_act' ? 'the activation' : 'the gradient';
    stuck.push({
      device: device.rank,
      step: position[index],
      instruction,
      waitsFor: `${kind} of stage ${instruction.stage}, microbatch ${instruction.microbatch} from device ${instruction.peer}`,
    });
  });
  return {
    deadlockFree: stuck.length === 0,
    stuck,
    completed: Array.from(position),
    timeline,
    unreceived: [...mailbox.keys()],
  };
}

function isCompute(op: Instruction['op']): boolean {
  return op === 'forward' || op === 'backward' || op === 'backward_input' || op === 'backward_weight' || op === 'recompute' || op === 'loss';
}

/** One line per stuck device plus the partial timeline, for the 4030 diagnostic. */
export function describeDeadlock(proof: DeadlockProof): string {
  const lines = proof.stuck.map(
    (s) => `device ${s.device} is stuck at instruction ${s.step} (${s.instruction.op} of stage ${s.instruction.stage}, microbatch ${s.instruction.microbatch}) waiting for ${s.waitsFor}`,
  );
  const timeline = proof.timeline.map((tail, device) => `device ${device} completed ${proof.completed[device]} instructions${tail.length ? `, last: ${tail.join(', ')}` : ''}`);
  return `${lines.join('; ')}. Partial timeline: ${timeline.join('; ')}`;
}
