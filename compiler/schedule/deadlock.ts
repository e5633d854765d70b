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
// Messages that name the stage at their other end (`peerStage`: the
// vocabulary shards' broadcast, statistics and gradients) are tagged by
// both ends, so the p messages of one broadcast or one sum stay apart.
// A cross-stage skip edge's messages are tagged (kind, edge, microbatch):
// `send_skip` deposits what `recv_skip` of the same edge and microbatch
// takes, and `send_skip_grad` what `recv_skip_grad` takes, so a skip
// channel is proven exactly like the chain's own.
// An `allreduce` posts its gradients to the other members of its group
// without blocking and then waits for theirs, tagged by the (copy-0) stage:
// it completes once every member of the group in these streams has reached
// its allreduce of the same stage (the two holders of a mirrored stage;
// replicas run identical streams and are proven through one of them).

import { messageStages, type Instruction } from '../ir/types.ts';
import type { CommsOrder } from '../lower/commsOrder.ts';
import { executeCommsOrder, type CommsProblem } from './commsExecution.ts';

export interface StreamsToProve {
  readonly devices: readonly { readonly rank: number; readonly instructions: readonly Instruction[] }[];
  /**
   * The IR's stages, when there are model copies: an allreduce is matched by
   * the copy-0 stage its members share (`modelStage`), as the runtime tags
   * its messages. Absent: every stage is its own.
   */
  readonly stages?: readonly { readonly index: number; readonly modelStage?: number }[];
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

export function proveDeadlockFree(streams: StreamsToProve): DeadlockProof {
  const devices = streams.devices;
  // Message tags become dense integers: (kind, receiving stage, microbatch).
  let stages = 1;
  let microbatches = 1;
  let edges = 0;
  for (const device of devices) {
    for (const instruction of device.instructions) {
      if (instruction.stage + 2 > stages) stages = instruction.stage + 2;
      if (instruction.microbatch !== undefined && instruction.microbatch + 1 > microbatches) microbatches = instruction.microbatch + 1;
      if (instruction.edge !== undefined && instruction.edge + 1 > edges) edges = instruction.edge + 1;
    }
  }
  const chainTags = 2 * stages * microbatches;
  const tagCount = chainTags + 2 * edges * microbatches;
  const tag = (gradient: boolean, stage: number, microbatch: number) => ((gradient ? stages : 0) + stage) * microbatches + microbatch;
  // Skip channels after the chain's: (kind, edge, microbatch).
  const skipTag = (gradient: boolean, edge: number, microbatch: number) => chainTags + ((gradient ? edges : 0) + edge) * microbatches + microbatch;
  // Pending messages per tag, with the sender and receiver of the first
  // one (each tag is sent once in a valid lowering; a mismatch in peers
  // makes the receive wait forever, which the proof then reports).
  const pending = new Int32Array(tagCount);
  const sender = new Int32Array(tagCount).fill(-1);
  const receiver = new Int32Array(tagCount).fill(-1);
  const waiter = new Int32Array(tagCount).fill(-1);
  const position = new Int32Array(devices.length);
  const lastCompute: Int32Array[] = devices.map(() => new Int32Array(TIMELINE_TAIL));
  const tailNext = new Int32Array(devices.length);
  const worklist: number[] = devices.map((_, index) => index).reverse();
  // Allreduce groups by their members present here: how many of the group's
  // allreduces each member has reached, and who waits for the others.
  const present = new Set(devices.map((device) => device.rank));
  const reductions = new Map<string, { readonly members: number[]; readonly reached: Map<number, number>; readonly waiters: Set<number> }>();
  const postedAt = new Int32Array(devices.length).fill(-1);
  const modelStage = (stage: number) => streams.stages?.[stage]?.modelStage ?? stage;
  // Messages that name the stage at their other end (the vocabulary shards'
  // broadcast, statistics and gradients) are tagged by both ends.
  const mailboxes = new Map<string, { pending: number; sender: number; receiver: number; waiter: number; readonly label: string }>();
  const mailbox = (instruction: Instruction) => {
    const ends = messageStages(instruction)!;
    const key = `${ends.kind}:${ends.from}:${ends.to}:${instruction.microbatch ?? 0}`;
    let box = mailboxes.get(key);
    if (!box) {
      const what = ends.kind === 'act' ? 'activation' : ends.kind === 'grad' ? 'gradient' : 'statistics';
      mailboxes.set(key, (box = { pending: 0, sender: -1, receiver: -1, waiter: -1, label: `${what} of stage ${ends.from} for stage ${ends.to}, microbatch ${instruction.microbatch ?? 0}` }));
    }
    return box;
  };
  const reductionOf = (instruction: Instruction) => {
    const members = [...new Set(instruction.group ?? [])].filter((member) => present.has(member)).sort((a, b) => a - b);
    const key = `${modelStage(instruction.stage)}:${members.join(',')}`;
    let state = reductions.get(key);
    if (!state) reductions.set(key, (state = { members, reached: new Map(), waiters: new Set() }));
    return state;
  };

  const receiveTag = (instruction: Instruction) => instruction.op === 'recv_skip' || instruction.op === 'recv_skip_grad'
    ? skipTag(instruction.op === 'recv_skip_grad', instruction.edge ?? 0, instruction.microbatch ?? 0)
    : tag(instruction.op === 'recv_grad', instruction.stage, instruction.microbatch ?? 0);

  while (worklist.length > 0) {
    const index = worklist.pop()!;
    const { rank, instructions } = devices[index];
    while (position[index] < instructions.length) {
      const instruction = instructions[position[index]];
      const op = instruction.op;
      if (instruction.peerStage !== undefined && (op === 'recv_act' || op === 'recv_grad' || op === 'recv_stats')) {
        const box = mailbox(instruction);
        if (box.pending === 0 || box.sender !== instruction.peer || box.receiver !== rank) {
          box.waiter = index;
          break;
        }
        box.pending--;
      } else if (instruction.peerStage !== undefined && (op === 'send_act' || op === 'send_grad' || op === 'send_stats')) {
        const box = mailbox(instruction);
        box.pending++;
        if (box.sender === -1) {
          box.sender = rank;
          box.receiver = instruction.peer ?? -1;
        }
        if (box.waiter !== -1) {
          const waiting = box.waiter;
          box.waiter = -1;
          if (waiting !== index) worklist.push(waiting);
        }
      } else if (op === 'recv_act' || op === 'recv_grad' || op === 'recv_skip' || op === 'recv_skip_grad') {
        const key = receiveTag(instruction);
        if (pending[key] === 0 || sender[key] !== instruction.peer || receiver[key] !== rank) {
          waiter[key] = index;
          break;
        }
        pending[key]--;
      } else if (op === 'send_act' || op === 'send_grad' || op === 'send_skip' || op === 'send_skip_grad') {
        const forward = op === 'send_act';
        const key = op === 'send_skip' || op === 'send_skip_grad'
          ? skipTag(op === 'send_skip_grad', instruction.edge ?? 0, instruction.microbatch ?? 0)
          : tag(!forward, instruction.stage + (forward ? 1 : -1), instruction.microbatch ?? 0);
        pending[key]++;
        if (sender[key] === -1) {
          sender[key] = rank;
          receiver[key] = instruction.peer ?? -1;
        }
        const waiting = waiter[key];
        if (waiting !== -1) {
          waiter[key] = -1;
          if (waiting !== index) worklist.push(waiting);
        }
      } else if (op === 'allreduce') {
        const reduction = reductionOf(instruction);
        if (postedAt[index] !== position[index]) {
          postedAt[index] = position[index];
          reduction.reached.set(rank, (reduction.reached.get(rank) ?? 0) + 1);
          for (const waiting of reduction.waiters) if (waiting !== index) worklist.push(waiting);
          reduction.waiters.clear();
        }
        const own = reduction.reached.get(rank)!;
        if (reduction.members.some((member) => (reduction.reached.get(member) ?? 0) < own)) {
          reduction.waiters.add(index);
          break;
        }
      } else if (isCompute(op)) {
        // Remember positions only; the partial timeline is spelled out at the end.
        const tail = lastCompute[index];
        tail[tailNext[index]++ % TIMELINE_TAIL] = position[index];
      }
      position[index]++;
    }
  }

  const timeline = devices.map((device, index) => {
    const count = Math.min(tailNext[index], TIMELINE_TAIL);
    const entries: string[] = [];
    for (let k = tailNext[index] - count; k < tailNext[index]; k++) {
      const instruction = device.instructions[lastCompute[index][k % TIMELINE_TAIL]];
      entries.push(`${instruction.op} s${instruction.stage}${instruction.microbatch === undefined ? '' : ` mb${instruction.microbatch}`}`);
    }
    return entries;
  });
  const stuck: StuckStream[] = [];
  devices.forEach((device, index) => {
    if (position[index] >= device.instructions.length) return;
    const instruction = device.instructions[position[index]];
    if (instruction.op === 'allreduce') {
      const reduction = reductionOf(instruction);
      const own = reduction.reached.get(device.rank) ?? 0;
      const behind = reduction.members.filter((member) => (reduction.reached.get(member) ?? 0) < own);
      stuck.push({ device: device.rank, step: position[index], instruction, waitsFor: `the allreduce of stage ${instruction.stage}'s gradients with device(s) ${behind.join(', ')}` });
      return;
    }
    if (instruction.peerStage !== undefined) {
      const box = mailbox(instruction);
      const mismatch = box.sender !== -1 && (box.sender !== instruction.peer || box.receiver !== device.rank) ? ` (it was sent by device ${box.sender} to device ${box.receiver})` : '';
      stuck.push({ device: device.rank, step: position[index], instruction, waitsFor: `the ${box.label} from device ${instruction.peer}${mismatch}` });
      return;
    }
    const kind = instruction.op === 'recv_act' ? 'the activation' : instruction.op === 'recv_grad' ? 'the gradient'
      : instruction.op === 'recv_skip' ? `the skip of edge ${instruction.edge}` : `the skip gradient of edge ${instruction.edge}`;
    const key = receiveTag(instruction);
    const from = sender[key];
    const mismatch = from !== -1 && (from !== instruction.peer || receiver[key] !== device.rank)
      ? ` (it was sent by device ${from} to device ${receiver[key]})`
      : '';
    stuck.push({
      device: device.rank,
      step: position[index],
      instruction,
      waitsFor: `${kind} of stage ${instruction.stage}, microbatch ${instruction.microbatch} from device ${instruction.peer}${mismatch}`,
    });
  });
  const unreceived: string[] = [];
  for (let key = 0; key < tagCount && unreceived.length < 20; key++) {
    if (pending[key] > 0 && key >= chainTags) {
      const rest = key - chainTags;
      const gradient = rest >= edges * microbatches;
      const within = rest % (edges * microbatches);
      unreceived.push(`${gradient ? 'skip gradient' : 'skip'} of edge ${Math.floor(within / microbatches)}, microbatch ${within % microbatches}`);
    } else if (pending[key] > 0) {
      const gradient = key >= stages * microbatches;
      const rest = key % (stages * microbatches);
      unreceived.push(`${gradient ? 'gradient' : 'activation'} for stage ${Math.floor(rest / microbatches)}, microbatch ${rest % microbatches}`);
    }
  }
  for (const box of mailboxes.values()) if (box.pending > 0 && unreceived.length < 20) unreceived.push(box.label);
  return {
    deadlockFree: stuck.length === 0,
    stuck,
    completed: Array.from(position),
    timeline,
    unreceived: stuck.length === 0 ? unreceived : [],
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

// ───────────────── comms-annotated orders (PyTorch's runtime) ─────────────────
//
// The instruction streams above follow pipec's channel contract. An order
// with SEND / RECV cells for PyTorch's runtime (a compute_comms CSV, pipec's
// `--comms` export or PyTorch's own lowering) is proven under the runtime's
// semantics instead: receives waited where their data is used, each rank's
// posted operations in order on one stream, a send and its receive meeting
// at the heads of their streams (compiler/schedule/commsExecution.ts).

export interface CommsOrderProof {
  readonly deadlockFree: boolean;
  /** The ranks that cannot finish, with the cell each is stuck at, and any cell the runtime would reject. */
  readonly problems: readonly CommsProblem[];
  /** Cells each rank completed before the run stopped. */
  readonly completed: readonly number[];
}

export function proveCommsOrderDeadlockFree(order: CommsOrder): CommsOrderProof {
  const run = executeCommsOrder(order);
  return { deadlockFree: run.finished, problems: run.problems, completed: run.completed };
}

/** One clause per stuck rank, for the PIPE4450 diagnostic. */
export function describeCommsDeadlock(proof: CommsOrderProof): string {
  return proof.problems.filter((problem) => problem.kind === 'deadlock').map((problem) => problem.detail).join('; ');
}
