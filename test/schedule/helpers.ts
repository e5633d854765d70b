// Shared helpers for schedule tests: parse a schedule declaration from text,
// build shapes, and summarise orders.

import { parse } from '../../grammar/index.ts';
import type { ScheduleDeclaration } from '../../grammar/ast.ts';
import { regularStageDevices as placeStages } from '../../compiler/placement.ts';
import { type ComputeSchedule, type PipelineShape } from '../../compiler/schedule/types.ts';
import { actionLabel } from '../../compiler/schedule/actions.ts';

export function declarationFrom(text: string, file = 'test.pipe'): ScheduleDeclaration {
  const parsed = parse({ name: file, text });
  if (parsed.diagnostics.length > 0) throw new Error(parsed.diagnostics.map((d) => d.message).join('; '));
  const declaration = parsed.document.declarations.find((d) => d.kind === 'ScheduleDeclaration');
  if (!declaration || declaration.kind !== 'ScheduleDeclaration') throw new Error('no schedule declaration');
  return declaration;
}

export function shapeOf(devices: number, microbatches: number, stagesPerDevice = 1, placement: 'loop' | 'v' = 'loop'): PipelineShape {
  return { devices, microbatches, stages: devices * stagesPerDevice, stageDevice: placeStages(placement, devices, stagesPerDevice) };
}

export function rows(schedule: ComputeSchedule): string[] {
  return schedule.orders.map((order) => order.map(actionLabel).join(' '));
}

export function orderFromRows(name: string, shape: PipelineShape, cells: readonly string[][]): ComputeSchedule {
  const orders = cells.map((row) =>
    row.map((cell) => {
      const match = /^(\d+)([FBIW])(\d+)$/.exec(cell);
      if (!match) throw new Error(`bad cell ${cell}`);
      return { stage: Number(match[1]), operation: match[2] as 'F' | 'B' | 'I' | 'W', microbatch: Number(match[3]) };
    }),
  );
  const splitBackward = orders.some((order) => order.some((action) => action.operation === 'I' || action.operation === 'W'));
  return { ...shape, name, splitBackward, orders };
}
