// `pipec check --torch-csv FILE`: import a PyTorch schedule CSV, validate the
// order, lower it and prove it free of deadlock, and time it under unit
// costs (F = I = W = 1, B = 2, no communication).

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import { spanOf } from '../../grammar/source.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../lower/lower.ts';
import { describeDeadlock, proveDeadlockFree } from '../schedule/deadlock.ts';
import { peakLiveActivations } from '../schedule/memory.ts';
import { timeSchedule } from '../schedule/unitTiming.ts';
import { problemsToDiagnostics, validateSchedule } from '../schedule/validate.ts';
import { importTorchCsv } from './csv.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface TorchCsvSummary {
  readonly ranks: number;
  readonly stages: number;
  readonly microbatches: number;
  readonly splitBackward: boolean;
  /** Under unit costs. */
  readonly makespan: number;
  readonly bubble: number;
  /** Peak live (stage, microbatch) activations per rank. */
  readonly peakActivations: readonly number[];
}

export interface TorchCsvCheck {
  readonly diagnostics: Diagnostic[];
  /** Present when the order is valid. */
  readonly summary?: TorchCsvSummary;
}

export function checkTorchCsvFile(text: string, name: string, options: { readonly microbatches?: number } = {}): TorchCsvCheck {
  const imported = importTorchCsv(text, name, options);
  const diagnostics = [...imported.diagnostics];
  const schedule = imported.schedule;
  if (!schedule || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const problems = validateSchedule(schedule);
  if (problems.length > 0) {
    diagnostics.push(...problemsToDiagnostics(problems, spanOf(name, 0, 0), { missingNearStage: true }));
    return { diagnostics };
  }
  const proof = proveDeadlockFree(lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages)));
  if (!proof.deadlockFree) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.deadlock, spanOf(name, 0, 0), { detail: describeDeadlock(proof) }));
    return { diagnostics };
  }
  const timing = timeSchedule(schedule);
  return {
    diagnostics,
    summary: {
      ranks: schedule.devices,
      stages: schedule.stages,
      microbatches: schedule.microbatches,
      splitBackward: schedule.splitBackward,
      makespan: timing.makespan,
      bubble: timing.bubble,
      peakActivations: peakLiveActivations(schedule),
    },
  };
}
