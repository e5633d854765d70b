import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deviceMemory, partitionLayers, stageComputeTimes, type PartitionRequest } from '../../compiler/partition/partition.ts';
import { regularStageDevices as placeStages } from '../../compiler/placement.ts';

/** Every contiguous partition of `layerCount` layers into `stageCount` non-empty stages, as first layers. */
function* allPartitions(layerCount: number, stageCount: number): Generator<number[]> {
  const firsts: number[] = [0];
  function* extend(stage: number, minStart: number): Generator<number[]> {
    if (stage === stageCount) {
      yield [...firsts];
      return;
    }
    for (let start = minStart; start <= layerCount - (stageCount - stage); start++) {
      firsts.push(start);
      yield* extend(stage + 1, start + 1);
      firsts.pop();
    }
  }
  yield* extend(1, 1);
}

function objective(request: PartitionRequest, firsts: number[]): [number, number] | undefined {
  const memory = deviceMemory(request, firsts);
  if (memory.some((bytes, d) => bytes > request.deviceCapacity[d])) return undefined;
  const slowest = Math.max(...stageComputeTimes(request, firsts));
  const fullest = Math.max(...memory.map((bytes, d) => bytes / request.deviceCapacity[d]));
  return request.balance === 'compute' ? [slowest, fullest] : [fullest, slowest];
}

function bruteForce(request: PartitionRequest): [number, number] | undefined {
  let best: [number, number] | undefined;
  for (const firsts of allPartitions(request.layers.length, request.stageCount)) {
    const value = objective(request, firsts);
    if (value === undefined) continue;
    if (best === undefined || value[0] < best[0] || (value[0] === best[0] && value[1] < best[1])) best = value;
  }
  return best;
}

const layerArbitrary = fc.record({
  computeTime: fc.integer({ min: 1, max: 20 }),
  staticBytes: fc.integer({ min: 0, max: 30 }),
  activationBytes: fc.integer({ min: 0, max: 10 }),
  inputBytes: fc.integer({ min: 0, max: 5 }),
});

const requestArbitrary = fc
  .record({
    layers: fc.array(layerArbitrary, { minLength: 1, maxLength: 10 }),
    devices: fc.integer({ min: 1, max: 3 }),
    stagesPerDevice: fc.integer({ min: 1, max: 2 }),
    placement: fc.constantFrom<'loop' | 'v'>('loop', 'v'),
    capacity: fc.integer({ min: 20, max: 200 }),
    balance: fc.constantFrom<'compute' | 'memory'>('compute', 'memory'),
    // Stages marked recompute keep their input per microbatch in flight (a cost that depends on where they start).
    checkpoints: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 6, maxLength: 6 }),
  })
  .map(({ layers, devices, stagesPerDevice, placement, capacity, balance, checkpoints }): PartitionRequest => {
    const stageCount = devices * stagesPerDevice;
    return {
      layers,
      stageCount,
      stageDevice: placeStages(placement, devices, stagesPerDevice),
      deviceCapacity: Array.from({ length: devices }, (_, d) => capacity + 10 * d),
      inflightMicrobatches: Array.from({ length: stageCount }, (_, s) => stageCount - s),
      checkpointMicrobatches: checkpoints.slice(0, stageCount),
      balance,
    };
  });

describe('partitionLayers', () => {
  it('matches brute force on small random models, shared devices included', () => {
    fc.assert(
      fc.property(requestArbitrary, (request) => {
        const result = partitionLayers(request);
        const expected = request.layers.length < request.stageCount ? undefined : bruteForce(request);
        if (expected === undefined) {
          expect(result.ok).toBe(false);
          return;
        }
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.optimal).toBeUndefined();
        expect(result.firstLayerOfStage).toHaveLength(request.stageCount);
        expect(result.firstLayerOfStage[0]).toBe(0);
        for (let s = 1; s < request.stageCount; s++) {
          expect(result.firstLayerOfStage[s]).toBeGreaterThan(result.firstLayerOfStage[s - 1]);
        }
        expect(objective(request, [...result.firstLayerOfStage])).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('balances a model with a large embedding and output head', () => {
    // Vocabulary-parallelism paper's shape: embedding and head each cost ~ 3 transformer layers.
    const block = { computeTime: 1, staticBytes: 10, activationBytes: 1 };
    const layers = [
      { computeTime: 3, staticBytes: 60, activationBytes: 1 },
      ...Array.from({ length: 10 }, () => block),
      { computeTime: 3, staticBytes: 60, activationBytes: 1 },
    ];
    const request: PartitionRequest = {
      layers,
      stageCount: 4,
      stageDevice: [0, 1, 2, 3],
      deviceCapacity: [1000, 1000, 1000, 1000],
      inflightMicrobatches: [4, 3, 2, 1],
      balance: 'compute',
    };
    const result = partitionLayers(request);
    expect(result).toEqual({ ok: true, firstLayerOfStage: [0, 2, 6, 10] });
    if (result.ok) expect(stageComputeTimes(request, result.firstLayerOfStage)).toEqual([4, 4, 4, 4]);
  });

  it('balances memory when asked, and the capacity moves the split', () => {
    const layers = Array.from({ length: 8 }, (_, l) => ({ computeTime: 1, staticBytes: l === 7 ? 50 : 10, activationBytes: 0 }));
    const request: PartitionRequest = {
      layers,
      stageCount: 2,
      stageDevice: [0, 1],
      deviceCapacity: [100, 100],
      inflightMicrobatches: [1, 1],
      balance: 'memory',
    };
    // 60 + 60 is the most even split of 120 bytes: layers 0..5 | 6,7.
    expect(partitionLayers(request)).toEqual({ ok: true, firstLayerOfStage: [0, 6] });
    // Compute balance would split 4 | 4, which puts 80 bytes on device 1; with 70 it must move.
    const tight = { ...request, balance: 'compute' as const, deviceCapacity: [100, 70] };
    expect(partitionLayers(tight)).toEqual({ ok: true, firstLayerOfStage: [0, 5] });
  });

  it('counts a recompute stage\'s checkpoints at the layer it starts with', () => {
    const layers = [0, 1, 2, 3].map((l) => ({ computeTime: 1, staticBytes: 0, activationBytes: 0, inputBytes: 10 * (l + 1) }));
    const request: PartitionRequest = { layers, stageCount: 2, stageDevice: [0, 1], deviceCapacity: [1000, 1000], inflightMicrobatches: [1, 1], checkpointMicrobatches: [0, 3], balance: 'compute' };
    // Stage 1 starting at layer 2 keeps 3 × 30 bytes of checkpoints.
    expect(deviceMemory(request, [0, 2])).toEqual([0, 90]);
    // At 80 bytes stage 1 must start where its input is smaller, or later.
    const tight = { ...request, deviceCapacity: [1000, 80] };
    expect(partitionLayers(tight)).toEqual({ ok: true, firstLayerOfStage: [0, 1] });
  });

  it('splits for balance alone when told not to keep within capacity', () => {
    const layers = Array.from({ length: 4 }, () => ({ computeTime: 1, staticBytes: 40, activationBytes: 0 }));
    const request: PartitionRequest = { layers, stageCount: 2, stageDevice: [0, 1], deviceCapacity: [50, 50], inflightMicrobatches: [1, 1], balance: 'compute' };
    expect(partitionLayers(request).ok).toBe(false);
    expect(partitionLayers({ ...request, withinCapacity: false })).toEqual({ ok: true, firstLayerOfStage: [0, 2] });
  });

  it('says which device cannot fit when nothing fits', () => {
    const layers = Array.from({ length: 4 }, () => ({ computeTime: 1, staticBytes: 40, activationBytes: 10 }));
    const result = partitionLayers({
      layers,
      stageCount: 4,
      stageDevice: [0, 1, 1, 0],
      deviceCapacity: [1000, 100],
      inflightMicrobatches: [4, 3, 2, 1],
      balance: 'compute',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/device 1 \(stages 1, 2\)/);
  });

  it('rejects more stages than layers with a reason', () => {
    const result = partitionLayers({
      layers: [{ computeTime: 1, staticBytes: 0, activationBytes: 0 }],
      stageCount: 2,
      stageDevice: [0, 1],
      deviceCapacity: [1, 1],
      inflightMicrobatches: [1, 1],
      balance: 'compute',
    });
    expect(result).toEqual({ ok: false, reason: 'cannot split 1 layer into 2 non-empty stages' });
  });

  it.each([
    ['loop', 'compute', 96, 8, 2],
    ['v', 'compute', 96, 8, 2],
    ['loop', 'compute', 96, 8, 4],
    ['loop', 'memory', 32, 4, 2],
    ['v', 'memory', 32, 4, 2],
  ] as const)('terminates with a split (placement %s, balance %s, %i layers, %i devices × %i)', (placement, balance, layerCount, devices, perDevice) => {
    const layers = Array.from({ length: layerCount }, (_, l) => ({
      computeTime: 1 + ((l * 7) % 5) / 10,
      staticBytes: 100 + ((l * 13) % 7),
      activationBytes: 5,
    }));
    const stageCount = devices * perDevice;
    const result = partitionLayers({
      layers,
      stageCount,
      stageDevice: placeStages(placement, devices, perDevice),
      deviceCapacity: Array.from({ length: devices }, () => 20000),
      inflightMicrobatches: Array.from({ length: stageCount }, (_, s) => stageCount - s),
      balance,
    });
    expect(result.ok).toBe(true);
  });

  it('settles for the best found, and says so, when a memory-balanced interleaved split is too large to search', () => {
    const layers = Array.from({ length: 96 }, (_, l) => ({ computeTime: 1, staticBytes: 100 + ((l * 13) % 7), activationBytes: 5 }));
    const request: PartitionRequest = {
      layers,
      stageCount: 16,
      stageDevice: placeStages('loop', 8, 2),
      deviceCapacity: Array.from({ length: 8 }, () => 20000),
      inflightMicrobatches: Array.from({ length: 16 }, (_, s) => 16 - s),
      balance: 'memory',
    };
    const result = partitionLayers(request);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.optimal).toBe(false);
    expect(result.firstLayerOfStage).toHaveLength(16);
    expect(Math.max(...deviceMemory(request, result.firstLayerOfStage))).toBeLessThanOrEqual(20000);
  });
});
