// An IR for a bare schedule — no model, only the pipeline shape — so that
// `pipec schedule`, imported PyTorch CSVs and tests can be lowered, proven
// and simulated with the same machinery as programs. Every stage moves one
// byte-sized unit; the model description is a single identity placeholder.

import { IR_VERSION, type IrProgram } from '../ir/types.ts';
import type { ComputeSchedule } from '../schedule/types.ts';
import { peakLiveActivations } from '../schedule/memory.ts';
import { lowerToInstructionStreams, unitStageInfo } from './lower.ts';

export function bareScheduleIr(schedule: ComputeSchedule): IrProgram {
  const copies = schedule.copies ?? 1;
  const vocabShards = schedule.vocabShards ?? 0;
  const modelStages = schedule.stages - vocabShards;
  const perCopy = modelStages / copies;
  const lowered = lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages));
  const peaks = peakLiveActivations(schedule);
  return {
    version: IR_VERSION,
    pipeline: schedule.name,
    schedule: schedule.name,
    splitBackward: schedule.splitBackward,
    ranks: schedule.devices,
    replicas: 1,
    ...(copies > 1 ? { copies } : {}),
    // the schedule's microbatches are per model copy; the program's are all of them
    microbatches: schedule.microbatches * copies,
    microbatchSize: 1,
    batch: schedule.microbatches * copies,
    seed: 0,
    optimizer: { name: 'sgd', args: {} },
    model: {
      name: 'bare',
      layers: [],
      input: { name: 'x', shape: [1], dtype: 'f32' },
      target: { name: 'y', shape: [1], dtype: 'f32' },
      loss: 'mse',
    },
    stages: schedule.stageDevice.map((rank, index) => ({
      index, name: `s${index}`, rank, layers: [], recompute: false, offload: false, activationBytes: 1,
      ...(copies > 1 && index >= perCopy ? { copy: Math.floor(index / perCopy), modelStage: index % perCopy } : {}),
      ...(index >= modelStages ? { vocabShard: { shard: index - modelStages, shards: vocabShards, units: 1 } } : {}),
    })),
    devices: lowered.devices.map((device) => ({
      index: device.rank,
      name: `rank${device.rank}`,
      replica: 0,
      rank: device.rank,
      slots: device.slots,
      memory: { weights: 0, gradients: 0, optimizerState: 0, activations: peaks[device.rank], peak: peaks[device.rank], capacity: 0 },
      instructions: device.instructions,
    })),
  };
}
