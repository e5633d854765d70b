// Exact contiguous partitioning of a layer sequence into pipeline stages.
//
// The search is a depth-first branch and bound over stage boundaries (stage 0
// first). It is exact because every pruning rule only discards partial
// partitions that provably cannot lead to a better complete one:
//  - bound: both objectives (slowest stage time, fullest device fraction) are
//    maxima over stages/devices, so adding stages never lowers them; a partial
//    partition already no better than the best complete one is dropped;
//  - lower bound: the stages still to place must hold the remaining layers, so
//    one of them takes at least remaining time / remaining stages;
//  - capacity: device memory only grows as stages are added;
//  - dominance: what can still happen after placing stages 0..s-1 depends only
//    on where stage s starts and on the memory already used on the devices that
//    still receive stages. A state whose objective and memory are both at least
//    those of a state already explored from the same (s, start) cannot do
//    better, so it is skipped. (A recompute stage's checkpoints, its input
//    kept per microbatch, depend only on where it starts, so (s, start)
//    still determines them.)
// When each device runs one stage, the dominance memo degenerates to "best
// objective seen at (s, start)", i.e. the classic O(n·L²) dynamic program.
// docs/costs.md states the argument in full.

export interface PartitionRequest {
  /**
   * Per layer, per microbatch: F+B time, weights+grads+optimizer bytes,
   * activation bytes, and the bytes of the layer's input (what a recompute
   * stage starting at this layer keeps per microbatch; absent: 0).
   */
  readonly layers: readonly { readonly computeTime: number; readonly staticBytes: number; readonly activationBytes: number; readonly inputBytes?: number }[];
  readonly stageCount: number;
  /** Rank of each stage (from the placement). */
  readonly stageDevice: readonly number[];
  /** Bytes per rank. */
  readonly deviceCapacity: readonly number[];
  /** Per stage: how many microbatches' activations are live at peak. */
  readonly inflightMicrobatches: readonly number[];
  /**
   * Per stage: how many microbatches keep only the stage's input at peak
   * (a recompute stage's checkpoints); absent: none.
   */
  readonly checkpointMicrobatches?: readonly number[];
  readonly balance: 'compute' | 'memory';
  /**
   * Whether every device's capacity bounds the split (default true). False:
   * the best split by `balance` alone, for a caller that checks memory
   * itself and wants the overflow measured, not refused.
   */
  readonly withinCapacity?: boolean;
}

export type PartitionResult =
  | {
    readonly ok: true;
    readonly firstLayerOfStage: readonly number[];
    /**
     * False only when the search hit its state budget (balance memory with
     * many layers on shared devices) and returns the best partition found.
     */
    readonly optimal?: boolean;
  }
  | { readonly ok: false; readonly reason: string };

/** States the search may visit before it settles for the best found (see docs/costs.md). */
export const SEARCH_STATE_BUDGET = 1_000_000;
/**
 * Work (candidate ends sorted, devices and dominance records scanned) the
 * search may do in all: a state costs in proportion to the layers and
 * devices, so states alone do not bound the time of a model with thousands
 * of layers and stages.
 */
export const SEARCH_WORK_BUDGET = 10_000_000;
const DOMINANCE_RECORDS_PER_STATE = 48;

interface SearchState {
  readonly request: PartitionRequest;
  readonly timePrefix: Float64Array;
  readonly staticPrefix: Float64Array;
  readonly activationPrefix: Float64Array;
  /** minInflightFrom[s] = the fewest in-flight microbatches of any stage ≥ s. */
  readonly minInflightFrom: Float64Array;
  /** capacityFrom[s] = total capacity of devicesFrom[s]. */
  readonly capacityFrom: Float64Array;
  /** devicesFrom[s] = the devices that run some stage ≥ s (their memory still matters). */
  readonly devicesFrom: readonly (readonly number[])[];
  readonly useCapacity: boolean;
  best: { primary: number; secondary: number; boundaries: number[] } | undefined;
  visited: number;
  work: number;
  truncated: boolean;
  readonly explored: Map<number, { primary: number; secondary: number; memory: Float64Array }[]>;
}

/** Exact partition minimising the slowest stage (or the fullest device) subject to every device's capacity. */
export function partitionLayers(request: PartitionRequest): PartitionResult {
  const problem = validateRequest(request);
  if (problem !== undefined) return { ok: false, reason: problem };

  const found = searchPartition(request, request.withinCapacity ?? true);
  if (found.boundaries !== undefined) {
    return found.truncated
      ? { ok: true, firstLayerOfStage: found.boundaries, optimal: false }
      : { ok: true, firstLayerOfStage: found.boundaries };
  }
  if (found.truncated) {
    return { ok: false, reason: `the search for a partition of ${request.layers.length} layers into ${request.stageCount} stages that fits in memory gave up within its budget (${SEARCH_STATE_BUDGET} states); try balance compute or fewer stages` };
  }

  // Nothing fits. Explain with the partition that needs the least memory on its
  // fullest device: since it is optimal, that device cannot fit under any partition.
  const tightest = searchPartition({ ...request, balance: 'memory' }, false).boundaries;
  if (tightest === undefined) {
    // Only a search cut short by its budget finds no unconstrained partition.
    return { ok: false, reason: `the search for a partition of ${request.layers.length} layers into ${request.stageCount} stages gave up within its budget; use fewer stages` };
  }
  const memory = deviceMemory(request, tightest);
  let worst = 0;
  for (let d = 0; d < memory.length; d++) {
    if (fraction(memory[d], request.deviceCapacity[d]) > fraction(memory[worst], request.deviceCapacity[worst])) worst = d;
  }
  const stagesOnWorst = request.stageDevice.map((device, stage) => (device === worst ? stage : -1)).filter((s) => s >= 0);
  return {
    ok: false,
    reason:
      `no partition of ${request.layers.length} layers into ${request.stageCount} stages fits in memory: ` +
      `even the most memory-balanced one needs ${formatBytes(memory[worst])} on device ${worst} ` +
      `(stage${stagesOnWorst.length > 1 ? 's' : ''} ${stagesOnWorst.join(', ')}), which has ${formatBytes(request.deviceCapacity[worst])}`,
  };
}

/** Memory per device (static + inflight × activation of each of its stages) under a partition. */
export function deviceMemory(request: PartitionRequest, firstLayerOfStage: readonly number[]): number[] {
  const memory = request.deviceCapacity.map(() => 0);
  for (let s = 0; s < request.stageCount; s++) {
    const end = s + 1 < request.stageCount ? firstLayerOfStage[s + 1] : request.layers.length;
    let staticBytes = 0;
    let activationBytes = 0;
    for (let l = firstLayerOfStage[s]; l < end; l++) {
      staticBytes += request.layers[l].staticBytes;
      activationBytes += request.layers[l].activationBytes;
    }
    memory[request.stageDevice[s]] += staticBytes + request.inflightMicrobatches[s] * activationBytes + checkpointBytes(request, s, firstLayerOfStage[s]);
  }
  return memory;
}

/** Per-stage F+B time under a partition. */
export function stageComputeTimes(request: PartitionRequest, firstLayerOfStage: readonly number[]): number[] {
  const times: number[] = [];
  for (let s = 0; s < request.stageCount; s++) {
    const end = s + 1 < request.stageCount ? firstLayerOfStage[s + 1] : request.layers.length;
    let time = 0;
    for (let l = firstLayerOfStage[s]; l < end; l++) time += request.layers[l].computeTime;
    times.push(time);
  }
  return times;
}

/** Bytes stage `stage` keeps as checkpoints when it starts at layer `start`. */
function checkpointBytes(request: PartitionRequest, stage: number, start: number): number {
  const count = request.checkpointMicrobatches?.[stage] ?? 0;
  return count === 0 ? 0 : count * (request.layers[start]?.inputBytes ?? 0);
}

function validateRequest(request: PartitionRequest): string | undefined {
  const { layers, stageCount, stageDevice, deviceCapacity, inflightMicrobatches } = request;
  if (!Number.isInteger(stageCount) || stageCount < 1) return `the stage count must be a positive integer, got ${stageCount}`;
  if (layers.length < stageCount) {
    return `cannot split ${layers.length} layer${layers.length === 1 ? '' : 's'} into ${stageCount} non-empty stages`;
  }
  if (stageDevice.length !== stageCount) return `the placement names ${stageDevice.length} devices for ${stageCount} stages`;
  if (inflightMicrobatches.length !== stageCount) {
    return `in-flight microbatch counts are given for ${inflightMicrobatches.length} stages, expected ${stageCount}`;
  }
  for (const device of stageDevice) {
    if (!Number.isInteger(device) || device < 0 || device >= deviceCapacity.length) {
      return `stage placed on device ${device}, but only devices 0–${deviceCapacity.length - 1} have a capacity`;
    }
  }
  return undefined;
}

function fraction(bytes: number, capacity: number): number {
  if (capacity > 0) return bytes / capacity;
  return bytes > 0 ? Number.POSITIVE_INFINITY : 0;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(2)} ${units[unit]}`;
}

function prefixSums(values: readonly number[]): Float64Array {
  const prefix = new Float64Array(values.length + 1);
  for (let i = 0; i < values.length; i++) prefix[i + 1] = prefix[i] + values[i];
  return prefix;
}

function searchPartition(request: PartitionRequest, useCapacity: boolean): { boundaries?: number[]; truncated: boolean } {
  const n = request.stageCount;
  const devicesFrom: number[][] = [];
  for (let s = 0; s <= n; s++) {
    devicesFrom.push([...new Set(request.stageDevice.slice(s))].sort((a, b) => a - b));
  }
  const minInflightFrom = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  for (let s = n - 1; s >= 0; s--) minInflightFrom[s] = Math.min(minInflightFrom[s + 1], request.inflightMicrobatches[s]);
  const capacityFrom = new Float64Array(n + 1);
  for (let s = 0; s <= n; s++) {
    for (const device of devicesFrom[s]) capacityFrom[s] += request.deviceCapacity[device];
  }
  const state: SearchState = {
    request,
    timePrefix: prefixSums(request.layers.map((layer) => layer.computeTime)),
    staticPrefix: prefixSums(request.layers.map((layer) => layer.staticBytes)),
    activationPrefix: prefixSums(request.layers.map((layer) => layer.activationBytes)),
    devicesFrom,
    minInflightFrom,
    capacityFrom,
    useCapacity,
    best: undefined,
    visited: 0,
    work: 0,
    truncated: false,
    explored: new Map(),
  };
  const memory = new Float64Array(request.deviceCapacity.length);
  explore(state, 0, 0, 0, 0, memory, []);
  return { boundaries: state.best?.boundaries, truncated: state.truncated };
}

/**
 * Place stage `stage` starting at layer `start`. `slowest` is the largest
 * stage time so far, `fullest` the largest device fraction so far.
 */
function explore(
  state: SearchState,
  stage: number,
  start: number,
  slowest: number,
  fullest: number,
  memory: Float64Array,
  boundaries: number[],
): void {
  const { request } = state;
  const n = request.stageCount;
  const layerCount = request.layers.length;
  const byCompute = request.balance === 'compute';
  const primary = byCompute ? slowest : fullest;
  const secondary = byCompute ? fullest : slowest;

  if (state.truncated) return;
  state.work += state.request.layers.length - start + state.devicesFrom[stage].length;
  if (++state.visited > SEARCH_STATE_BUDGET || state.work > SEARCH_WORK_BUDGET) {
    state.truncated = true;
    return;
  }
  if (stage === n) {
    const best = state.best;
    if (best === undefined || primary < best.primary || (primary === best.primary && secondary < best.secondary)) {
      state.best = { primary, secondary, boundaries: [...boundaries] };
    }
    return;
  }

  // Lower bounds: one remaining stage takes at least the average of what is
  // left; the devices still receiving stages must together hold at least the
  // remaining bytes (each stage keeps at least the fewest in-flight microbatches).
  const remainingTime = state.timePrefix[layerCount] - state.timePrefix[start];
  const stagesLeft = n - stage;
  const relevant = state.devicesFrom[stage];
  let relevantUsed = 0;
  for (const device of relevant) relevantUsed += memory[device];
  const remainingBytes =
    relevantUsed +
    state.staticPrefix[layerCount] - state.staticPrefix[start] +
    state.minInflightFrom[stage] * (state.activationPrefix[layerCount] - state.activationPrefix[start]);
  const relevantCapacity = state.capacityFrom[stage];
  if (state.useCapacity && remainingBytes > relevantCapacity) return;
  if (state.best !== undefined) {
    const best = state.best;
    const fullestBound = Math.max(fullest, fraction(remainingBytes, relevantCapacity));
    const slowestBound = Math.max(slowest, remainingTime / stagesLeft);
    if ((byCompute ? slowestBound : fullestBound) > best.primary) return;
    if (primary > best.primary || (primary === best.primary && secondary >= best.secondary)) return;
  }

  // Dominance against states already explored from (stage, start).
  const key = stage * (layerCount + 1) + start;
  let records = state.explored.get(key);
  if (records === undefined) {
    records = [];
    state.explored.set(key, records);
  }
  state.work += records.length * relevant.length;
  for (const record of records) {
    if (record.primary > primary || record.secondary > secondary) continue;
    let dominated = true;
    for (let i = 0; i < relevant.length; i++) {
      if (record.memory[i] > memory[relevant[i]]) {
        dominated = false;
        break;
      }
    }
    if (dominated) return;
  }
  // Dominance only prunes; a bounded list keeps its scans cheap without losing exactness.
  if (records.length < DOMINANCE_RECORDS_PER_STATE) {
    const snapshot = new Float64Array(relevant.length);
    for (let i = 0; i < relevant.length; i++) snapshot[i] = memory[relevant[i]];
    records.push({ primary, secondary, memory: snapshot });
  }

  // Candidate ends, nearest to an even split of what is left first, so a good
  // bound is found early.
  const lastEnd = layerCount - (stagesLeft - 1);
  const device = request.stageDevice[stage];
  const capacity = request.deviceCapacity[device];
  const inflight = request.inflightMicrobatches[stage];
  const before = memory[device];
  const checkpoints = checkpointBytes(request, stage, start);
  const stageBytes = (end: number): number =>
    state.staticPrefix[end] - state.staticPrefix[start] +
    inflight * (state.activationPrefix[end] - state.activationPrefix[start]) + checkpoints;
  const idealTime = remainingTime / stagesLeft;
  const idealFraction = fraction(remainingBytes, relevantCapacity);
  const ends: number[] = [];
  // The last stage takes everything that is left.
  for (let end = stagesLeft === 1 ? layerCount : start + 1; end <= lastEnd; end++) ends.push(end);
  const costOf = (end: number): number =>
    byCompute
      ? Math.abs(state.timePrefix[end] - state.timePrefix[start] - idealTime)
      : Math.abs(fraction(before + stageBytes(end), capacity) - idealFraction);
  ends.sort((a, b) => costOf(a) - costOf(b) || a - b);

  boundaries.push(start);
  for (const end of ends) {
    const time = state.timePrefix[end] - state.timePrefix[start];
    const used = before + stageBytes(end);
    if (state.useCapacity && used > capacity) continue;
    const nextSlowest = Math.max(slowest, time);
    const nextFullest = Math.max(fullest, fraction(used, capacity));
    if (state.best !== undefined) {
      const nextPrimary = byCompute ? nextSlowest : nextFullest;
      if (nextPrimary > state.best.primary) continue;
    }
    memory[device] = used;
    explore(state, stage + 1, end, nextSlowest, nextFullest, memory, boundaries);
    memory[device] = before;
  }
  boundaries.pop();
}
