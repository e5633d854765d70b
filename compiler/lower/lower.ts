// Lowering: compute order per device → per-device instruction streams.
// Each compute action becomes the instructions that feed it, run it and pass
// its result on (see docs/ir.md for the full table):
//   F(s,i):  load_microbatch (s = 0; the last stage also loads targets) or
//            recv_act from s-1's device · forward · loss (last stage) or
//            send_act to s+1's device · offload (offloaded stages)
//   B/I(s,i): recv_grad from s+1's device (not the last stage) · reload ·
//            recompute · backward | backward_input · send_grad to s-1's
//            device (s > 0) · free (B)
//   W(s,i):  backward_weight · free
//   R(s,i):  recompute (and the F of the pair becomes a checkpointing
//            forward: it keeps only the stage input)
//   O(s,i):  offload · L(s,i): reload — where the order puts them; a stage's
//            whole-stage recompute / offload attribute then does not act on
//            that pair
// and each device ends with optimizer_step per stage it holds that has
// parameters to train (none for a frozen stage).
// A forward-only stage (a frozen prefix) lowers F alone: load or recv_act ·
// forward · send_act · free, so nothing of it outlives the send; the first
// stage after the prefix sends no input gradient back.
// With two model copies (a mirrored placement) each copy is a chain of its
// own: "the first stage" and "the last stage" above are those of the
// action's copy, and instructions carry the data microbatch (copy k's
// microbatch i is k·m/2 + i), so the runtime loads and tags by it.
// With vocabulary shards (`vocab_parallel`, compiler/check/vocabParallel.ts)
// the last model stage sends its output to every shard and sums their
// input gradients (one recv_grad per shard); a shard's F receives that
// output, loads its targets and sends its row statistics to every other
// shard (send_stats), and its B/I receives theirs (recv_stats) before its
// `loss`. These messages name the stage at their other end (peerStage).
// A cross-stage skip edge (source layer in stage a, merge layer in stage
// b > a) adds its own channel: F(a,i) ends with send_skip to b's device,
// F(b,i) starts (after its input) with recv_skip; B/I(b,i) ends with
// send_skip_grad back, and B/I(a,i) waits for it with recv_skip_grad
// before its backward. Each names its edge; the data dependencies are
// those of the chain (a < b), so a valid order stays deadlock free.
// Sends and receives between stages on the same device are kept (a local
// hand-off through the mailbox): the runtime stays uniform and the deadlock
// proof covers them too.
//
// Activation slots are allocated statically by interval colouring in order:
// a slot is taken at F and returned at the free; the lowest free slot is
// reused first, so a device needs exactly its peak number of live
// activations.

import type { Instruction, IrSkipEdge } from '../ir/types.ts';
import {
  activationConsumers, activationSources, copiesOf, copyOfStage, gradientConsumers, gradientSources, isFirstStageOfCopy, isForwardOnly, isLastStageOfCopy,
  isVocabShard, statisticsPeers, vocabShardsOf,
} from '../schedule/actions.ts';
import type { ComputeAction, ComputeSchedule } from '../schedule/types.ts';

export interface StageLoweringInfo {
  readonly recompute: boolean;
  readonly offload: boolean;
  /** Bytes kept from F until B/W. */
  readonly activationBytes: number;
  /** Bytes of the stage's output (sent forward; its gradient is sent back). */
  readonly outputBytes: number;
  /** Bytes of the stage's input (its gradient is sent to the previous stage). */
  readonly inputBytes: number;
  /** Every layer frozen: nothing to step (no optimizer_step). Absent: false. */
  readonly frozen?: boolean;
}

export interface LoweredDevice {
  readonly rank: number;
  readonly slots: number;
  readonly instructions: Instruction[];
}

export interface LoweredStreams {
  readonly devices: LoweredDevice[];
}

/** Unit-size stage info, for bare schedules (`pipec schedule`, CSVs). */
export function unitStageInfo(stages: number): StageLoweringInfo[] {
  return Array.from({ length: stages }, () => ({ recompute: false, offload: false, activationBytes: 1, outputBytes: 1, inputBytes: 1 }));
}

export function lowerToInstructionStreams(schedule: ComputeSchedule, stageInfo: readonly StageLoweringInfo[], skipEdges: readonly IrSkipEdge[] = []): LoweredStreams {
  if (stageInfo.length !== schedule.stages) {
    throw new Error(`lowerToInstructionStreams: ${stageInfo.length} stage infos for ${schedule.stages} stages`);
  }
  const { stages, microbatches, stageDevice } = schedule;
  // Cross-stage skip edges by the stage that sends (source) and the one that receives (merge), with their ids.
  const skipsFrom: { edge: number; skip: IrSkipEdge }[][] = Array.from({ length: stages }, () => []);
  const skipsInto: { edge: number; skip: IrSkipEdge }[][] = Array.from({ length: stages }, () => []);
  skipEdges.forEach((skip, edge) => {
    if (skip.sourceStage === skip.mergeStage) return;
    skipsFrom[skip.sourceStage].push({ edge, skip });
    skipsInto[skip.mergeStage].push({ edge, skip });
  });
  const mirrored = copiesOf(schedule) > 1;
  const vocab = vocabShardsOf(schedule) > 0;
  const slotOf = new Int32Array(stages * microbatches).fill(-1);
  const splitPair = new Uint8Array(stages * microbatches);
  // Pairs with an explicit R / O: their memory is planned by the order, not by the stage's attributes.
  const plannedRecompute = new Uint8Array(stages * microbatches);
  const plannedOffload = new Uint8Array(stages * microbatches);
  for (const order of schedule.orders) {
    for (const action of order) {
      const pair = action.stage * microbatches + action.microbatch;
      if (action.operation === 'W') splitPair[pair] = 1;
      else if (action.operation === 'R') plannedRecompute[pair] = 1;
      else if (action.operation === 'O') plannedOffload[pair] = 1;
    }
  }

  const devices: LoweredDevice[] = schedule.orders.map((order, rank) => {
    const instructions: Instruction[] = [];
    // Free slots as a min-heap would be overkill: slots are few; a sorted
    // stack of released indices plus a high-water mark keeps reuse lowest-first.
    const released: number[] = [];
    let highWater = 0;
    const take = () => {
      if (released.length === 0) return highWater++;
      let best = 0;
      for (let k = 1; k < released.length; k++) if (released[k] < released[best]) best = k;
      const slot = released[best];
      released[best] = released[released.length - 1];
      released.pop();
      return slot;
    };
    // Plain literals of one shape per kind keep this allocation-light: a
    // large schedule lowers to millions of instructions. A Span has exactly
    // a SourceRef's fields, so the action's span object is shared as is.
    const emit = (op: Instruction['op'], action: ComputeAction, slot: number) => {
      instructions.push(action.span ? { op, stage: action.stage, microbatch: action.microbatch, slot, source: action.span } : { op, stage: action.stage, microbatch: action.microbatch, slot });
    };
    // A message to or from a vocabulary shard names the stage at its other end (Instruction.peerStage).
    const emitVocabMove = (op: Instruction['op'], action: ComputeAction, slot: number, peerStage: number, bytes: number) => {
      const base = { op, stage: action.stage, microbatch: action.microbatch, slot, peer: stageDevice[peerStage], peerStage, bytes };
      instructions.push(action.span ? { ...base, source: action.span } : base);
    };
    const emitMove = (op: Instruction['op'], action: ComputeAction, slot: number, peer: number | undefined, bytes: number) => {
      instructions.push(
        action.span
          ? peer === undefined
            ? { op, stage: action.stage, microbatch: action.microbatch, slot, bytes, source: action.span }
            : { op, stage: action.stage, microbatch: action.microbatch, slot, peer, bytes, source: action.span }
          : peer === undefined
            ? { op, stage: action.stage, microbatch: action.microbatch, slot, bytes }
            : { op, stage: action.stage, microbatch: action.microbatch, slot, peer, bytes },
      );
    };
    const emitSkip = (op: 'send_skip' | 'recv_skip' | 'send_skip_grad' | 'recv_skip_grad', action: ComputeAction, slot: number, peer: number, edge: number, bytes: number) => {
      instructions.push(action.span
        ? { op, stage: action.stage, microbatch: action.microbatch, slot, peer, bytes, edge, source: action.span }
        : { op, stage: action.stage, microbatch: action.microbatch, slot, peer, bytes, edge });
    };
    for (const scheduled of order) {
      const s = scheduled.stage;
      const pair = s * microbatches + scheduled.microbatch;
      // The instructions name the data microbatch (the same number unless there are copies).
      const action = mirrored ? { ...scheduled, microbatch: copyOfStage(schedule, s) * microbatches + scheduled.microbatch } : scheduled;
      const i = action.microbatch;
      const info = stageInfo[s];
      const first = isFirstStageOfCopy(schedule, s);
      const last = isLastStageOfCopy(schedule, s);
      if (action.operation === 'F') {
        const slot = take();
        slotOf[pair] = slot;
        if (first) emit('load_microbatch', action, slot);
        else if (vocab && isVocabShard(schedule, s)) for (const source of activationSources(schedule, s)) emitVocabMove('recv_act', action, slot, source, stageInfo[source].outputBytes);
        else emitMove('recv_act', action, slot, stageDevice[s - 1], stageInfo[s - 1].outputBytes);
        if (last && !first) emit('load_microbatch', action, slot);
        for (const { edge, skip } of skipsInto[s]) emitSkip('recv_skip', action, slot, stageDevice[skip.sourceStage], edge, skip.bytes);
        // A whole-stage recompute lowers as an R right before each backward,
        // so the simulator and the memory check count it as they count an R.
        if (plannedRecompute[pair] || (info.recompute && !plannedOffload[pair])) {
          const kept = Math.min(info.inputBytes, info.activationBytes);
          instructions.push(action.span
            ? { op: 'forward', stage: s, microbatch: i, slot, checkpoint: true, bytes: kept, source: action.span }
            : { op: 'forward', stage: s, microbatch: i, slot, checkpoint: true, bytes: kept });
        } else if (info.recompute && plannedOffload[pair]) {
          // A recompute stage's pair that the order offloads keeps its stash for the O.
          instructions.push(action.span
            ? { op: 'forward', stage: s, microbatch: i, slot, checkpoint: false, source: action.span }
            : { op: 'forward', stage: s, microbatch: i, slot, checkpoint: false });
        } else emit('forward', action, slot);
        // A shard's S pass sends its row statistics to every other shard (the all-reduce C0, as an exchange).
        if (vocab && isVocabShard(schedule, s)) for (const peer of statisticsPeers(schedule, s)) emitVocabMove('send_stats', action, slot, peer, info.outputBytes);
        else if (last) emit('loss', action, slot);
        else if (vocab && activationConsumers(schedule, s).some((next) => isVocabShard(schedule, next))) {
          // The broadcast of the last model stage's output to every shard.
          for (const next of activationConsumers(schedule, s)) emitVocabMove('send_act', action, slot, next, info.outputBytes);
        } else emitMove('send_act', action, slot, stageDevice[s + 1], info.outputBytes);
        for (const { edge, skip } of skipsFrom[s]) emitSkip('send_skip', action, slot, stageDevice[skip.mergeStage], edge, skip.bytes);
        if (isForwardOnly(schedule, s)) {
          emit('free', action, slot);
          released.push(slot);
          continue;
        }
        if (info.offload && !plannedOffload[pair] && !plannedRecompute[pair]) emitMove('offload', action, slot, undefined, info.activationBytes);
        continue;
      }
      const slot = slotOf[pair];
      if (slot < 0) throw new Error(`lowerToInstructionStreams: ${action.operation} of stage ${s} microbatch ${i} before its F (validate first)`);
      if (action.operation === 'R') {
        emitMove('recompute', action, slot, undefined, info.activationBytes - Math.min(info.inputBytes, info.activationBytes));
        continue;
      }
      if (action.operation === 'O' || action.operation === 'L') {
        emitMove(action.operation === 'O' ? 'offload' : 'reload', action, slot, undefined, info.activationBytes);
        continue;
      }
      const explicit = plannedRecompute[pair] === 1 || plannedOffload[pair] === 1;
      if (action.operation === 'B' || action.operation === 'I') {
        const shard = vocab && isVocabShard(schedule, s);
        if (vocab && gradientSources(schedule, s).some((next) => isVocabShard(schedule, next))) {
          // The last model stage sums its output gradient over the shards (the reduce C1).
          for (const source of gradientSources(schedule, s)) emitVocabMove('recv_grad', action, slot, source, info.outputBytes);
        } else if (!last) emitMove('recv_grad', action, slot, stageDevice[s + 1], info.outputBytes);
        if (shard) {
          // T: the other shards' statistics, then the loss and the softmax − one-hot of this shard.
          for (const peer of statisticsPeers(schedule, s)) emitVocabMove('recv_stats', action, slot, peer, stageInfo[peer].outputBytes);
          emit('loss', action, slot);
        }
        for (const { edge, skip } of skipsFrom[s]) emitSkip('recv_skip_grad', action, slot, stageDevice[skip.mergeStage], edge, skip.bytes);
        if (info.offload && !explicit) emitMove('reload', action, slot, undefined, info.activationBytes);
        if (info.recompute && !explicit) emitMove('recompute', action, slot, undefined, info.activationBytes - Math.min(info.inputBytes, info.activationBytes));
        emit(action.operation === 'B' ? 'backward' : 'backward_input', action, slot);
        if (shard) for (const previous of gradientConsumers(schedule, s)) emitVocabMove('send_grad', action, slot, previous, info.inputBytes);
        // No gradient goes back into a forward-only stage.
        else if (!first && !isForwardOnly(schedule, s - 1)) emitMove('send_grad', action, slot, stageDevice[s - 1], info.inputBytes);
        // A forward-only source stage takes no gradient, so none goes back along its skips either.
        for (const { edge, skip } of skipsInto[s]) if (!isForwardOnly(schedule, skip.sourceStage)) emitSkip('send_skip_grad', action, slot, stageDevice[skip.sourceStage], edge, skip.bytes);
        if (action.operation === 'B' || splitPair[pair] === 0) {
          emit('free', action, slot);
          released.push(slot);
        }
      } else {
        emit('backward_weight', action, slot);
        emit('free', action, slot);
        released.push(slot);
      }
    }
    // Optimizer steps in order of the model stage (copy-0 index): with two
    // copies the two holders of a stage all-reduce it right before its step,
    // and visiting the shared stages in one global order keeps each
    // exchange's partner at the same point.
    const perCopy = stages / copiesOf(schedule);
    const held = stageDevice.map((device, stage) => ({ device, stage })).filter((entry) => entry.device === rank && stageInfo[entry.stage].frozen !== true)
      .sort((a, b) => (a.stage % perCopy) - (b.stage % perCopy) || a.stage - b.stage);
    for (const { stage } of held) instructions.push({ op: 'optimizer_step', stage });
    return { rank, slots: highWater, instructions };
  });
  return { devices };
}
