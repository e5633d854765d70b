// Event-driven simulation of lowered instruction streams under a cost model.
// docs/simulator.md states the semantics; in short:
//  - each device runs its instructions in order, one at a time; an
//    instruction starts when the device is free and its inputs are there;
//  - send_act / send_grad to another device take the sender's send overhead
//    (costs.sendActivationOverhead / sendGradientOverhead, absent: none) and
//    never block; the message arrives the link time (costs.sendActivation /
//    sendGradient of the sending stage) after the send ends; recv_* waits for
//    its tagged message, whenever it arrived; a vocabulary shard's messages
//    (peerStage) are tagged by both ends, the broadcast and the statistics
//    charged as the sender's sendActivation, a shard's gradient as its
//    sendGradient (send_stats / recv_stats are moves like the others);

//    a skip edge's send_skip and
//    send_skip_grad are messages tagged by (edge, microbatch) that arrive
//    costs.sendSkip[edge] after the send;
//  - forward, backward, backward_input, backward_weight take their stage's
//    cost; recompute takes the stage's forward time; allreduce is a rendezvous of its group and takes
//    costs.allreduce[stage]; optimizer_step takes costs.optimizerStep[stage];
//    everything else (load_microbatch, loss, free) takes no time;
//  - offload and reload run on the device's copy stream, one at a time, in
//    stream order, each taking bytes / host bandwidth (the link of the
//    cluster's `device host`): a copy is issued when the compute stream
//    reaches it and starts when the copy stream is free, so it overlaps
//    compute; the recompute / backward of a pair waits for its reload to end;
//  - an activation is live on its device from the start of its forward until
//    its free (right after its B, or its W when backward is split), except
//    between an offload's end and its reload's start; a checkpointing forward
//    (an R is planned for the pair) holds the full stash while it runs and
//    then only its checkpoint (`bytes`), until its recompute adds the rest.
//    Peaks are taken over time, so a copy that ends after later compute
//    frees its bytes only then.
// The run is a worklist over devices, each advanced until it blocks; a
// blocked device is woken by the message or rendezvous it waits for, so the
// work is linear in the number of instructions.

import type { CostModel } from '../cost/types.ts';
import { messageStages, type Instruction, type InstructionOp, type IrProgram } from '../ir/types.ts';

/** S and T: the forward and the backward (B, I or W) of a vocabulary shard (`vocab_parallel`). */
export type TimelineKind = 'F' | 'B' | 'I' | 'W' | 'S' | 'T' | 'recompute' | 'offload' | 'reload' | 'allreduce' | 'optimizer';

export interface TimelineInterval {
  readonly kind: TimelineKind;
  readonly stage: number;
  readonly microbatch: number;
  readonly start: number;
  readonly end: number;
  /**
   * The model copy this action belongs to under a mirrored placement (two
   * copies sharing the ranks, see compiler/placement.ts). Absent means copy
   * 0. The pictures outline copy 1's actions.
   */
  readonly copy?: number;
  /** 'copy': the device's copy stream (offload / reload), which runs beside its compute. Absent: compute. */
  readonly stream?: 'copy';
}

export interface Transfer {
  readonly kind: 'activation' | 'gradient' | 'skip' | 'skip gradient';
  readonly from: number;
  readonly to: number;
  readonly stage: number;
  readonly microbatch: number;
  readonly sent: number;
  readonly arrived: number;
}

export interface MemoryBreakdown {
  readonly weights: number;
  readonly gradients: number;
  readonly optimizerState: number;
  /** Peak live activations (the cost model's activation units: bytes, or 1 per stage under unit costs). */
  readonly activations: number;
  /** weights + gradients + optimizer state + peak activations. */
  readonly peak: number;
}

export interface DeviceSummary {
  readonly device: number;
  readonly label: string;
  readonly busy: number;
  readonly idle: number;
  /** idle / makespan. */
  readonly bubble: number;
  readonly finish: number;
  readonly memory: MemoryBreakdown;
  readonly timeline: readonly TimelineInterval[];
}

export interface CriticalStep {
  readonly device: number;
  readonly kind: TimelineKind | 'transfer';
  readonly stage: number;
  readonly microbatch: number;
  readonly start: number;
  readonly end: number;
}

export interface StuckInstruction {
  readonly device: number;
  readonly index: number;
  readonly instruction: Instruction;
  readonly waitsFor: string;
}

export interface SimulationResult {
  readonly makespan: number;
  /** 1 - total busy / (devices × makespan). */
  readonly bubble: number;
  readonly devices: readonly DeviceSummary[];
  /** Messages between devices (same-device hand-offs are left out). */
  readonly transfers: readonly Transfer[];
  /** From time 0 to the last finish, the chain of instructions and transfers that set the makespan. */
  readonly criticalPath: readonly CriticalStep[];
  /** Devices that could not finish (a receive whose send never comes); empty when all finished. */
  readonly stuck: readonly StuckInstruction[];
}

export interface StreamDevice {
  /** Global device index (defaults to the position in the list). */
  readonly index?: number;
  readonly rank: number;
  readonly replica?: number;
  readonly name?: string;
  readonly instructions: readonly Instruction[];
}

export interface StaticMemory {
  readonly weights: number;
  readonly gradients: number;
  readonly optimizerState: number;
}

export interface SimulateOptions {
  /** Per device (same order as the streams). Zero when absent. */
  readonly staticMemory?: readonly StaticMemory[];
  /** Keep per-device intervals, transfers and the critical path (default true; off for fast sweeps). */
  readonly detail?: boolean;
  /** Model copies the stages belong to (a mirrored placement: 2); intervals then say which (TimelineInterval.copy). */
  readonly copies?: number;
  /** The first vocabulary shard stage (`vocab_parallel`): shard stages' passes are drawn as S and T. */
  readonly vocabShardsFrom?: number;
}

const NONE = -1;

/**
 * Simulates `streams` (as lowerToInstructionStreams returns them, or an
 * IR's devices) under `costs`. Microbatch and stage counts are read from the
 * instructions.
 */
export function simulate(
  streams: readonly StreamDevice[] | { readonly devices: readonly StreamDevice[] },
  costs: CostModel,
  options: SimulateOptions = {},
): SimulationResult {
  const devices = 'devices' in streams ? streams.devices : streams;
  const detail = options.detail ?? true;
  const deviceCount = devices.length;

  // Sizes from the streams themselves.
  let stages = costs.stages.length;
  let microbatches = 1;
  let replicas = 1;
  let edges = 0;
  const positionOf = new Map<number, number>();
  devices.forEach((device, position) => {
    positionOf.set(device.index ?? position, position);
    replicas = Math.max(replicas, (device.replica ?? 0) + 1);
    for (const instruction of device.instructions) {
      if (instruction.stage + 1 > stages) stages = instruction.stage + 1;
      if (instruction.microbatch !== undefined && instruction.microbatch + 1 > microbatches) microbatches = instruction.microbatch + 1;
      if (instruction.edge !== undefined && instruction.edge + 1 > edges) edges = instruction.edge + 1;
    }
  });
  if (costs.stages.length < stages) {
    throw new Error(`simulate: the cost model has ${costs.stages.length} stages, the streams use ${stages}`);
  }

  const copies = options.copies ?? 1;
  const copyOf = copies > 1 ? (stage: number) => Math.floor(stage / (stages / copies)) : undefined;

  // Mailbox: arrival time per (kind, replica, stage of the sender, microbatch),
  // then the skip channels per (kind, replica, edge, microbatch).
  const perKind = replicas * stages * microbatches;
  const perSkipKind = replicas * edges * microbatches;
  const mailboxSize = 2 * perKind + 2 * perSkipKind;
  const arrival = new Float64Array(mailboxSize).fill(Number.NaN);
  const senderDevice = new Int32Array(mailboxSize).fill(NONE);
  const senderIndex = new Int32Array(mailboxSize).fill(NONE);
  const waiter = new Int32Array(mailboxSize).fill(NONE);
  const messageKey = (kind: 0 | 1, replica: number, stage: number, microbatch: number) =>
    kind * perKind + (replica * stages + stage) * microbatches + microbatch;
  const skipKey = (gradient: boolean, replica: number, edge: number, microbatch: number) =>
    2 * perKind + (gradient ? perSkipKind : 0) + (replica * edges + edge) * microbatches + microbatch;

  // Messages that name the stage at their other end (vocabulary shards): by (kind, replica, both ends, microbatch).
  const namedMailboxes = new Map<string, { arrival: number; senderDevice: number; senderIndex: number; waiter: number }>();
  const namedMailbox = (replica: number, instruction: Instruction) => {
    const ends = messageStages(instruction)!;
    const key = `${ends.kind}:${replica}:${ends.from}:${ends.to}:${instruction.microbatch ?? 0}`;
    let box = namedMailboxes.get(key);
    if (!box) namedMailboxes.set(key, (box = { arrival: Number.NaN, senderDevice: NONE, senderIndex: NONE, waiter: NONE }));
    return box;
  };

  // Rendezvous for allreduce: per (stage, group key), who has arrived and when.
  const rendezvous = new Map<string, { arrived: Map<number, number>; size: number; released: boolean; start: number }>();

  const next = new Int32Array(deviceCount);
  const free = new Float64Array(deviceCount);
  const busy = new Float64Array(deviceCount);
  // Activation bytes change at instants on two streams; collected per device and swept in time order at the end.
  const memoryTimes: number[][] = devices.map(() => []);
  const memoryDeltas: number[][] = devices.map(() => []);
  const changeMemory = (d: number, time: number, delta: number) => {
    memoryTimes[d].push(time);
    memoryDeltas[d].push(delta);
  };
  // The copy stream of each device (offload / reload), and when each pair's reload ends.
  const copyFree = new Float64Array(deviceCount);
  const lastCopy = new Int32Array(deviceCount).fill(NONE);
  const pairKey = (replica: number, stage: number, microbatch: number) => (replica * stages + stage) * microbatches + microbatch;
  const reloadEnd = new Float64Array(replicas * stages * microbatches);
  const reloadIndex = new Int32Array(replicas * stages * microbatches).fill(NONE);
  // Bytes held per (stage, microbatch) as compiler/schedule/memory.ts counts
  // them: the stash from F (or reload, or recompute) to I/B, what W needs
  // from I to W, nothing after the free or the offload. Held state follows
  // program order; each change is charged at its instant on its stream.
  const heldActivation = new Float64Array(replicas * stages * microbatches);
  const holdActivation = (d: number, time: number, key: number, bytes: number) => {
    changeMemory(d, time, bytes - heldActivation[key]);
    heldActivation[key] = bytes;
  };
  const starts = devices.map((device) => new Float64Array(device.instructions.length));
  const ends = devices.map((device) => new Float64Array(device.instructions.length));
  // What held each instruction back: NONE (the device itself) or a device position whose instruction index is in boundIndex.
  const boundDevice = detail ? devices.map((device) => new Int32Array(device.instructions.length).fill(NONE)) : [];
  const boundIndex = detail ? devices.map((device) => new Int32Array(device.instructions.length).fill(NONE)) : [];
  const timelines: TimelineInterval[][] = devices.map(() => []);
  const transfers: Transfer[] = [];
  const hostBandwidth = costs.hostBandwidth ?? Number.POSITIVE_INFINITY;

  const durationOf = (instruction: Instruction, d: number): number => {
    const times = costs.stages[instruction.stage];
    switch (instruction.op) {
      case 'forward':
      case 'recompute':
        return times.forward;
      case 'backward':
        return times.backward;
      case 'backward_input':
        return times.backwardInput;
      case 'backward_weight':
        return times.backwardWeight;
      case 'offload':
      case 'reload':
        return (instruction.bytes ?? 0) / hostBandwidth;
      case 'allreduce':
        return costs.allreduce?.[instruction.stage] ?? 0;
      case 'optimizer_step':
        return costs.optimizerStep?.[instruction.stage] ?? 0;
      case 'send_act':
      case 'send_grad': {
        const overhead = instruction.op === 'send_act' ? costs.sendActivationOverhead : costs.sendGradientOverhead;
        if (overhead === undefined || instruction.peer === undefined || (positionOf.get(instruction.peer) ?? d) === d) return 0;
        return overhead[instruction.stage] ?? 0;
      }
      default:
        return 0;
    }
  };

  const worklist: number[] = [];
  for (let d = deviceCount - 1; d >= 0; d--) worklist.push(d);
  const wake = (d: number) => worklist.push(d);

  while (worklist.length > 0) {
    const d = worklist.pop()!;
    const device = devices[d];
    const replica = device.replica ?? 0;
    const instructions = device.instructions;
    const deviceStarts = starts[d];
    const deviceEnds = ends[d];
    while (next[d] < instructions.length) {
      const k = next[d];
      const instruction = instructions[k];
      const op = instruction.op;
      let ready = free[d];
      let bindDevice = NONE;
      let bindIndex = NONE;

      if (instruction.peerStage !== undefined && (op === 'recv_act' || op === 'recv_grad' || op === 'recv_stats')) {
        const box = namedMailbox(replica, instruction);
        if (Number.isNaN(box.arrival)) {
          box.waiter = d;
          break;
        }
        if (box.arrival > ready) {
          ready = box.arrival;
          bindDevice = box.senderDevice;
          bindIndex = box.senderIndex;
        }
      } else if (op === 'recv_act' || op === 'recv_grad' || op === 'recv_skip' || op === 'recv_skip_grad') {
        const key = op === 'recv_act'
          ? messageKey(0, replica, instruction.stage - 1, instruction.microbatch ?? 0)
          : op === 'recv_grad'
            ? messageKey(1, replica, instruction.stage + 1, instruction.microbatch ?? 0)
            : skipKey(op === 'recv_skip_grad', replica, instruction.edge ?? 0, instruction.microbatch ?? 0);
        const at = arrival[key];
        if (Number.isNaN(at)) {
          waiter[key] = d;
          break;
        }
        if (at > ready) {
          ready = at;
          bindDevice = senderDevice[key];
          bindIndex = senderIndex[key];
        }
      } else if (op === 'allreduce') {
        const group = instruction.group ?? [device.index ?? d];
        // the two copies of a stage meet under the copy-0 stage they share
        const id = `${copyOf === undefined ? instruction.stage : instruction.stage % (stages / copies)}:${group.join(',')}`;
        let meeting = rendezvous.get(id);
        if (meeting === undefined) {
          meeting = { arrived: new Map(), size: group.length, released: false, start: 0 };
          rendezvous.set(id, meeting);
        }
        if (!meeting.arrived.has(d)) {
          meeting.arrived.set(d, ready);
          if (meeting.arrived.size === meeting.size) {
            meeting.released = true;
            let latest = 0;
            let latestDevice = d;
            for (const [member, time] of meeting.arrived) {
              if (time > latest) {
                latest = time;
                latestDevice = member;
              }
            }
            meeting.start = latest;
            for (const member of meeting.arrived.keys()) if (member !== d) wake(member);
            if (latestDevice !== d && detail) {
              bindDevice = latestDevice;
              bindIndex = next[latestDevice] - 1;
            }
          }
        }
        if (!meeting.released) break;
        ready = Math.max(ready, meeting.start);
      }

      if (op === 'offload' || op === 'reload') {
        // Copy stream: issued now, starts when the previous copy is done; the compute stream goes on.
        const issue = ready;
        const copyStart = Math.max(issue, copyFree[d]);
        const copyEnd = copyStart + durationOf(instruction, d);
        deviceStarts[k] = copyStart;
        deviceEnds[k] = copyEnd;
        copyFree[d] = copyEnd;
        if (detail) {
          const copyBound = copyStart > issue && lastCopy[d] !== NONE;
          boundDevice[d][k] = copyBound || bindDevice !== NONE ? (copyBound ? d : bindDevice) : NONE;
          boundIndex[d][k] = copyBound ? lastCopy[d] : bindIndex;
        }
        lastCopy[d] = k;
        next[d] = k + 1;
        const full = costs.stages[instruction.stage].activation;
        const key = pairKey(replica, instruction.stage, instruction.microbatch ?? 0);
        if (op === 'offload') holdActivation(d, copyEnd, key, 0);
        else {
          holdActivation(d, copyStart, key, full);
          reloadEnd[key] = copyEnd;
          reloadIndex[key] = k;
        }
        if (detail) timelines[d].push({ kind: timelineKind(op)!, stage: instruction.stage, microbatch: instruction.microbatch ?? 0, start: copyStart, end: copyEnd, stream: 'copy' });
        continue;
      }
      if (op === 'recompute' || op === 'backward' || op === 'backward_input') {
        // The stash must be back from host memory.
        const key = pairKey(replica, instruction.stage, instruction.microbatch ?? 0);
        if (reloadIndex[key] !== NONE && reloadEnd[key] > ready) {
          ready = reloadEnd[key];
          bindDevice = d;
          bindIndex = reloadIndex[key];
        }
      }

      const duration = durationOf(instruction, d);
      const end = ready + duration;
      deviceStarts[k] = ready;
      deviceEnds[k] = end;
      free[d] = end;
      busy[d] += duration;
      next[d] = k + 1;
      if (detail) {
        boundDevice[d][k] = bindDevice;
        boundIndex[d][k] = bindIndex;
      }

      if (instruction.peerStage !== undefined && (op === 'send_act' || op === 'send_grad' || op === 'send_stats')) {
        const box = namedMailbox(replica, instruction);
        const ends = messageStages(instruction)!;
        const peer = instruction.peer === undefined ? d : positionOf.get(instruction.peer) ?? d;
        // The broadcast and the statistics are charged as the sender's sendActivation, a shard's gradient as its sendGradient.
        const link = peer === d ? 0 : (ends.kind === 'grad' ? costs.sendGradient[ends.from] : costs.sendActivation[ends.from]) ?? 0;
        box.arrival = end + link;
        box.senderDevice = d;
        box.senderIndex = k;
        if (detail && peer !== d && ends.kind !== 'stats') {
          transfers.push({ kind: ends.kind === 'act' ? 'activation' : 'gradient', from: d, to: peer, stage: instruction.stage, microbatch: instruction.microbatch ?? 0, sent: end, arrived: end + link });
        }
        if (box.waiter !== NONE) {
          const blocked = box.waiter;
          box.waiter = NONE;
          if (blocked !== d) wake(blocked);
        }
      } else switch (op) {
        case 'send_act':
        case 'send_grad': {
          const kind = op === 'send_act' ? 0 : 1;
          const key = messageKey(kind, replica, instruction.stage, instruction.microbatch ?? 0);
          const peer = instruction.peer === undefined ? d : positionOf.get(instruction.peer) ?? d;
          const link = peer === d ? 0 : (kind === 0 ? costs.sendActivation[instruction.stage] : costs.sendGradient[instruction.stage]) ?? 0;
          arrival[key] = end + link;
          senderDevice[key] = d;
          senderIndex[key] = k;
          if (detail && peer !== d) {
            transfers.push({
              kind: kind === 0 ? 'activation' : 'gradient',
              from: d,
              to: peer,
              stage: instruction.stage,
              microbatch: instruction.microbatch ?? 0,
              sent: end,
              arrived: end + link,
            });
          }
          const blocked = waiter[key];
          if (blocked !== NONE) {
            waiter[key] = NONE;
            if (blocked !== d) wake(blocked);
          }
          break;
        }
        case 'send_skip':
        case 'send_skip_grad': {
          const gradient = op === 'send_skip_grad';
          const edge = instruction.edge ?? 0;
          const key = skipKey(gradient, replica, edge, instruction.microbatch ?? 0);
          const peer = instruction.peer === undefined ? d : positionOf.get(instruction.peer) ?? d;
          const link = peer === d ? 0 : costs.sendSkip?.[edge] ?? 0;
          arrival[key] = end + link;
          senderDevice[key] = d;
          senderIndex[key] = k;
          if (detail && peer !== d) {
            transfers.push({ kind: gradient ? 'skip gradient' : 'skip', from: d, to: peer, stage: instruction.stage, microbatch: instruction.microbatch ?? 0, sent: end, arrived: end + link });
          }
          const blocked = waiter[key];
          if (blocked !== NONE) {
            waiter[key] = NONE;
            if (blocked !== d) wake(blocked);
          }
          break;
        }
        case 'forward': {
          const full = costs.stages[instruction.stage].activation;
          const key = pairKey(replica, instruction.stage, instruction.microbatch ?? 0);
          holdActivation(d, ready, key, full);
          // A checkpointing forward keeps only its input once it is done.
          if (instruction.checkpoint === true) holdActivation(d, end, key, Math.min(instruction.bytes ?? full, full));
          break;
        }
        case 'recompute':
          // An R rebuilds what its checkpointing forward dropped (`bytes`);
          // a whole-stage recompute lowers to the same pair of instructions.
          if (instruction.bytes !== undefined) holdActivation(d, ready, pairKey(replica, instruction.stage, instruction.microbatch ?? 0), costs.stages[instruction.stage].activation);
          break;
        case 'backward_input': {
          const times = costs.stages[instruction.stage];
          holdActivation(d, end, pairKey(replica, instruction.stage, instruction.microbatch ?? 0), times.weightGradientActivation ?? times.activation);
          break;
        }
        case 'free':
          holdActivation(d, ready, pairKey(replica, instruction.stage, instruction.microbatch ?? 0), 0);
          break;
      }
      if (detail) {
        const plain = timelineKind(op);
        const shard = options.vocabShardsFrom !== undefined && instruction.stage >= options.vocabShardsFrom;
        const kind = shard && plain !== undefined && ['F', 'B', 'I', 'W'].includes(plain) ? (plain === 'F' ? 'S' : 'T') : plain;
        if (kind !== undefined && (duration > 0 || isCompute(op))) {
          timelines[d].push(copyOf === undefined
            ? { kind, stage: instruction.stage, microbatch: instruction.microbatch ?? 0, start: ready, end }
            : { kind, stage: instruction.stage, microbatch: instruction.microbatch ?? 0, start: ready, end, copy: copyOf(instruction.stage) });
        }
      }
    }
  }

  let makespan = 0;
  for (let d = 0; d < deviceCount; d++) makespan = Math.max(makespan, free[d]);
  const stuck: StuckInstruction[] = [];
  for (let d = 0; d < deviceCount; d++) {
    const instructions = devices[d].instructions;
    if (next[d] >= instructions.length) continue;
    const instruction = instructions[next[d]];
    const ends = instruction.peerStage === undefined ? undefined : messageStages(instruction);
    const waitsFor = ends !== undefined
      ? `the ${ends.kind === 'act' ? 'activation' : ends.kind === 'grad' ? 'gradient' : 'statistics'} of stage ${ends.from} for stage ${ends.to}, microbatch ${instruction.microbatch}`
      : instruction.op === 'recv_act'
      ? `the activation of stage ${instruction.stage - 1}, microbatch ${instruction.microbatch}`
      : instruction.op === 'recv_grad'
        ? `the gradient of stage ${instruction.stage + 1}, microbatch ${instruction.microbatch}`
        : instruction.op === 'recv_skip' || instruction.op === 'recv_skip_grad'
          ? `the ${instruction.op === 'recv_skip' ? 'skip' : 'skip gradient'} of edge ${instruction.edge}, microbatch ${instruction.microbatch}`
          : `the other members of the allreduce of stage ${instruction.stage}`;
    stuck.push({ device: devices[d].index ?? d, index: next[d], instruction, waitsFor });
  }

  const peakActivation = memoryTimes.map((times, d) => peakOverTime(times, memoryDeltas[d]));
  let totalBusy = 0;
  for (let d = 0; d < deviceCount; d++) totalBusy += busy[d];
  const summaries: DeviceSummary[] = devices.map((device, d) => {
    const fixed = options.staticMemory?.[d] ?? { weights: 0, gradients: 0, optimizerState: 0 };
    const idle = makespan - busy[d];
    return {
      device: device.index ?? d,
      label: device.name ?? (replicas > 1 ? `replica ${device.replica ?? 0} rank ${device.rank}` : `rank ${device.rank}`),
      busy: busy[d],
      idle,
      bubble: makespan > 0 ? idle / makespan : 0,
      finish: free[d],
      memory: {
        weights: fixed.weights,
        gradients: fixed.gradients,
        optimizerState: fixed.optimizerState,
        activations: peakActivation[d],
        peak: fixed.weights + fixed.gradients + fixed.optimizerState + peakActivation[d],
      },
      timeline: timelines[d],
    };
  });

  return {
    makespan,
    bubble: makespan > 0 ? 1 - totalBusy / (deviceCount * makespan) : 0,
    devices: summaries,
    transfers,
    criticalPath: detail && stuck.length === 0 ? criticalPath(devices, starts, ends, boundDevice, boundIndex, free, costs) : [],
    stuck,
  };
}

/** Simulates a compiled program: its devices' streams, with the compiler's static memory per device. */
export function simulateIr(ir: IrProgram, costs: CostModel, options: Omit<SimulateOptions, 'staticMemory'> = {}): SimulationResult {
  return simulate(ir.devices, costs, {
    ...(ir.copies === undefined ? {} : { copies: ir.copies }),
    ...(ir.stages.some((stage) => stage.vocabShard !== undefined) ? { vocabShardsFrom: ir.stages.findIndex((stage) => stage.vocabShard !== undefined) } : {}),
    ...options,
    staticMemory: ir.devices.map((device) => ({
      weights: device.memory.weights,
      gradients: device.memory.gradients,
      optimizerState: device.memory.optimizerState,
    })),
  });
}

/** Highest running sum of `deltas` applied in time order (ties: in the order they were recorded). */
function peakOverTime(times: readonly number[], deltas: readonly number[]): number {
  let live = 0;
  let peak = 0;
  // Without copies the compute stream records in time order already: sweep without sorting.
  let sorted = true;
  for (let k = 1; k < times.length && sorted; k++) sorted = times[k] >= times[k - 1];
  if (sorted) {
    for (const delta of deltas) {
      live += delta;
      if (live > peak) peak = live;
    }
    return peak;
  }
  const order = Array.from(times.keys()).sort((a, b) => times[a] - times[b] || a - b);
  for (const index of order) {
    live += deltas[index];
    if (live > peak) peak = live;
  }
  return peak;
}

function isCompute(op: InstructionOp): boolean {
  return op === 'forward' || op === 'backward' || op === 'backward_input' || op === 'backward_weight';
}

function timelineKind(op: InstructionOp): TimelineKind | undefined {
  switch (op) {
    case 'forward': return 'F';
    case 'backward': return 'B';
    case 'backward_input': return 'I';
    case 'backward_weight': return 'W';
    case 'recompute': return 'recompute';
    case 'offload': return 'offload';
    case 'reload': return 'reload';
    case 'allreduce': return 'allreduce';
    case 'optimizer_step': return 'optimizer';
    default: return undefined;
  }
}

/**
 * Walks back from the last instruction to finish: through the previous
 * instruction on the device when the device was the constraint, through the
 * message (and its sender) when the input arrived last.
 */
function criticalPath(
  devices: readonly StreamDevice[],
  starts: readonly Float64Array[],
  ends: readonly Float64Array[],
  boundDevice: readonly Int32Array[],
  boundIndex: readonly Int32Array[],
  free: Float64Array,
  costs: CostModel,
): CriticalStep[] {
  let d = 0;
  for (let e = 1; e < devices.length; e++) if (free[e] > free[d]) d = e;
  let k = devices[d]?.instructions.length - 1;
  const steps: CriticalStep[] = [];
  while (d !== NONE && k >= 0) {
    const instruction = devices[d].instructions[k];
    const kind = timelineKind(instruction.op);
    if (kind !== undefined && ends[d][k] > starts[d][k]) {
      steps.push({ device: devices[d].index ?? d, kind, stage: instruction.stage, microbatch: instruction.microbatch ?? 0, start: starts[d][k], end: ends[d][k] });
    } else if ((instruction.op === 'send_act' || instruction.op === 'send_grad') && ends[d][k] > starts[d][k]) {
      // The sender's own share of a send (its overhead) counts with the transfer.
      steps.push({ device: devices[d].index ?? d, kind: 'transfer', stage: instruction.stage, microbatch: instruction.microbatch ?? 0, start: starts[d][k], end: ends[d][k] });
    }
    const fromDevice = boundDevice[d][k];
    if (fromDevice !== NONE) {
      const fromIndex = boundIndex[d][k];
      const sender = devices[fromDevice].instructions[fromIndex];
      if (sender !== undefined && (sender.op === 'send_act' || sender.op === 'send_grad' || sender.op === 'send_skip' || sender.op === 'send_skip_grad')) {
        const link = (sender.op === 'send_act' ? costs.sendActivation[sender.stage]
          : sender.op === 'send_grad' ? costs.sendGradient[sender.stage] : costs.sendSkip?.[sender.edge ?? 0]) ?? 0;
        if (link > 0) {
          steps.push({ device: devices[fromDevice].index ?? fromDevice, kind: 'transfer', stage: sender.stage, microbatch: sender.microbatch ?? 0, start: ends[fromDevice][fromIndex], end: ends[fromDevice][fromIndex] + link });
        }
      }
      d = fromDevice;
      k = fromIndex;
      continue;
    }
    // The device was the constraint, or the instruction started at 0.
    if (k === 0 || starts[d][k] <= 0) break;
    k--;
  }
  return steps.reverse();
}
