// PIPE3xxx — placement: batch splitting, replicas, stages, devices and
// placements. One entry per code; docs/diagnostics.md is generated from this
// table and every code has a golden case under test/cases/diagnostics/.

import type { MessageDefinition } from '../../grammar/diagnostic.ts';

function error(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'error', template, summary };
}

export const PlacementMessages = {
  microbatchesDivide: error(3001, '{microbatches} microbatches do not divide the batch of {batch}', 'The batch does not split evenly into microbatches and no remainder policy is given.'),
  replicas: error(3002, '{problem}', 'The cluster has fewer compute devices than replicas × pipeline ranks.'),
  layerNotPlaced: error(3003, "layer '{name}' is in no stage", 'A layer of the model is not assigned to any stage.'),
  layerPlacedTwice: error(3004, "layer '{name}' is in both stage '{first}' and stage '{second}'", 'A layer is assigned to more than one stage.'),
  stagesOutOfOrder: error(3005, "stage '{stage}' takes '{later}' before '{earlier}', but the model runs '{earlier}' first", 'Stages must take layers in model order, each stage a contiguous run continuing where the previous one stopped.'),
  unknownLayer: error(3006, "model '{model}' has no layer '{name}'", 'A stage (or a layer range) names a layer that the model does not declare.'),
  layerIndex: error(3007, "{problem}", 'An index or range into a layer array is out of bounds, empty or not an array.'),
  duplicateStage: error(3008, "stage '{name}' is declared more than once", 'Two stages share a name.'),
  placementWithDevice: error(3009, "stage '{name}' has an explicit device, but the stages use placement {placement}", 'A stage names a device while the stages block also asks for an automatic placement.'),
  stageWithoutDevice: error(3010, "stage '{name}' has no device", 'Without a placement, every stage needs `on DEVICE`.'),
  placementShape: error(3011, '{problem}', 'The number of stages does not fit the placement: loop and wave need a multiple of the ranks, v an even multiple.'),
  unknownStage: error(3012, "unknown stage '{name}' in {attribute}", '`recompute` or `offload` names a stage that does not exist.'),
  rankGap: error(3013, "the stages use {used} but not {missing}; pipeline ranks must be the cluster's first devices without gaps", 'Stages placed explicitly must use devices 0..P-1 of the cluster, so rank d is device d.'),
  deviceCannotCompute: error(3014, "device '{name}' has no speed, so it cannot run stage '{stage}'", 'A stage is placed on a device without a `speed` (such as a host memory device).'),
  autoPartition: error(3015, 'cannot partition {layers} layers into {stages} stages: {reason}', 'Automatic partitioning (`stages auto(N)`) failed.'),
  unknownPlacement: error(3016, "unknown {what} '{name}'", 'A placement is not one of loop, v and wave, or a balance is not compute or memory.'),
  deviceIndex: error(3018, "{problem}", 'A device index or range is outside the devices the cluster declares, or a device that is an array is used without an index.'),
  stageCount: error(3020, '{problem}', 'The stage count of `stages auto(N)` is not a positive integer at most the number of layers.'),
} as const satisfies Record<string, MessageDefinition>;

export const PLACEMENT_MESSAGES: readonly MessageDefinition[] = Object.values(PlacementMessages);
