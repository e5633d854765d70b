// Skip connections placed on the stages: each of the model's skips
// (compiler/check/model.ts) with the stages of its two ends. An edge whose
// ends are in different stages is carried on its own channel by lowering;
// such an edge cannot cross a mirrored placement's copies, and its stages
// keep the skip tensor themselves, which `recompute` and `offload` do not
// plan for (both are refused with the skip named). Two merges of one
// source in one later stage share one crossing: the edge names the first.

import type { CheckedModel, CheckedSkipEdge, Precision } from '../program.ts';
import type { Reporter } from './context.ts';
import { activationScale } from './settings.ts';
import type { StagePlan } from './stages.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export function placeSkipEdges(model: CheckedModel, plan: StagePlan, microbatchSize: number, precision: Precision, reporter: Reporter): CheckedSkipEdge[] {
  const stageOfLayer = new Map<number, number>();
  plan.stages.forEach((stage, index) => { for (const layer of stage.layers) stageOfLayer.set(layer, index); });
  const edges: CheckedSkipEdge[] = [];
  for (const skip of model.skips) {
    const sourceStage = stageOfLayer.get(skip.source);
    const mergeStage = stageOfLayer.get(skip.merge);
    // A layer in no stage was reported by the stage checker.
    if (sourceStage === undefined || mergeStage === undefined) continue;
    const names = { source: model.layers[skip.source].name, merge: model.layers[skip.merge].name };
    if (sourceStage !== mergeStage) {
      if (plan.placement.copies.length > 1) {
        reporter.report(diagnosticMessages.skipMirrored, skip.span, { ...names, placement: plan.placement.kind }, {
          hint: 'keep both ends of the skip in one stage, or use a single-copy placement',
        });
      }
      for (const index of [sourceStage, mergeStage]) {
        const stage = plan.stages[index];
        for (const attribute of ['recompute', 'offload'] as const) {
          if (!stage[attribute]) continue;
          reporter.report(diagnosticMessages.skipStageMemoryAttribute, stage.span, { ...names, stage: stage.name, attribute }, {
            hint: `drop ${attribute} for this stage, or keep both ends of the skip in one stage`,
            related: [{ span: skip.span, message: 'the skip is taken here' }],
          });
        }
      }
    }
    // One crossing per (source, merge stage): a second merge of the same source in that stage reads what already arrived.
    if (sourceStage !== mergeStage && edges.some((edge) => edge.source === skip.source && edge.mergeStage === mergeStage)) continue;
    edges.push({
      source: skip.source, merge: skip.merge, sourceStage, mergeStage,
      bytes: skip.bytesPerExample * activationScale(precision) * microbatchSize,
    });
  }
  return edges;
}

/**
 * Bytes per microbatch a stage's stash holds for cross-stage skips: what it
 * receives, kept from the recv before its F until its B or I (the merge's
 * backward hands the gradient back then). The sender keeps nothing extra:
 * the source's output leaves with the send, and the source stage's own
 * stash, live until its B or I, is what waits for the gradient.
 */
export function receivedSkipBytes(edges: readonly CheckedSkipEdge[], stage: number): number {
  return edges.reduce((sum, edge) => sum + (edge.mergeStage === stage && edge.sourceStage !== stage ? edge.bytes : 0), 0);
}
