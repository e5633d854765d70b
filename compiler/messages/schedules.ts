// Diagnostics of schedules (4xxx): evaluating a schedule declaration,
// validating a compute order, importing PyTorch CSVs, proving freedom from
// deadlock. One table; docs/diagnostics.md is generated from the summaries.

import type { MessageDefinition } from '../../grammar/diagnostic.ts';

function error(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'error', template, summary };
}

function warning(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'warning', template, summary };
}

export const scheduleMessages = {
  unknownName: error(4001, "'{name}' is not defined in this schedule", 'A schedule expression names something that is neither a parameter, p/m/v/n/d, a let nor a loop variable.'),
  divisionByZero: error(4002, 'division by zero in `{expression}`', 'A schedule expression divides (or takes a remainder) by zero.'),
  notAnInteger: error(4003, '`{expression}` is {value}, but {what} must be a whole number', 'A microbatch, chunk, range bound or limit evaluated to a fraction or a non-number.'),
  negativeRange: error(4004, 'range {from}..{to} runs backwards', 'A range whose end is below its start; ranges are half-open and ascending.'),
  unknownFunction: error(4005, "unknown function '{name}' (known: {known})", 'A call to a function the schedule language does not have.'),
  wrongArgumentCount: error(4006, "'{name}' takes {expected} argument(s), got {actual}", 'A built-in function called with the wrong number of arguments.'),
  microbatchOutOfRange: error(4007, 'microbatch {microbatch} is outside 0..{microbatches}', 'An action names a microbatch that does not exist.'),
  chunkOutOfRange: error(4008, 'device {device} has {chunks} stage(s), so chunk {chunk} does not exist', 'An action names a chunk (the c-th stage on the device) that the device does not have.'),
  mixedForms: error(4009, 'a schedule is either explicit (`on device`) or rules (`split backward`, `limit`, `priority`), not both', 'A schedule body mixes the explicit and the rules form.'),
  missingArgument: error(4010, "schedule '{schedule}' needs a value for '{name}'", 'A schedule parameter without a default was not given at the use site.'),
  unknownArgument: error(4011, "schedule '{schedule}' has no parameter '{name}'", 'The use site passes an argument the schedule does not declare.'),
  placementMismatch: error(4012, "schedule '{schedule}' requires placement {required}, but the stages are placed {actual}", 'A `requires placement` rule does not hold for the pipeline.'),
  unknownRequirement: error(4013, "unknown requirement '{what}' (known: placement {placements}, split backward, or a condition such as v == 2)", '`requires` names something the compiler does not know.'),
  unknownResource: error(4014, "unknown limit '{name}' (known: activations)", '`limit` names a resource other than activations.'),
  limitTooTight: error(4015, 'the list scheduler is stuck: {detail}', 'The rules (usually the activation limit) leave no action that can run.'),
  unknownSchedule: error(4016, "unknown schedule '{name}' (built-in: {known})", 'A built-in schedule name that the standard library does not define.'),
  emptyBody: error(4017, "schedule '{schedule}' has neither `on device` blocks nor rules", 'A schedule declaration with an empty body.'),
  badShape: error(4018, '{detail}', 'The pipeline shape (devices, microbatches, stages per device) cannot be scheduled.'),
  stageNeverRun: error(4019, "schedule '{schedule}' never runs stage {stage} (chunk {chunk} of device {device}): it is written for fewer stages per device than the pipeline's {perDevice}", 'An explicit schedule leaves a whole stage out, usually because it was written for one stage per device.'),
  requirementFailed: error(4032, "schedule '{schedule}' {reason} ({values})", "The pipeline's shape breaks a `requires` condition of the schedule's contract (such as DualPipeV's m >= 2 * p)."),
  requirementNotCondition: error(4033, '`{expression}` is {value}, but a requirement must be true or false', 'A `requires` condition evaluates to a number instead of true or false.'),
  tooMuchWork: error(4031, "schedule '{schedule}' {what}, but the whole pipeline has only {actions} actions: a range is far too long", 'Evaluating a schedule loops or emits far more than the pipeline could use (guards against runaway loops).'),
  // validation of a compute order
  missingAction: error(4020, 'stage {stage} microbatch {microbatch} is never {what}', 'Some (stage, microbatch) lacks its F, or its B (or I and W).'),
  duplicateAction: error(4021, '{action} runs more than once (device {device}, step {step})', 'An action appears twice in the schedule.'),
  mixedBackward: error(4022, '{action} on device {device} step {step}: stage {stage} microbatch {microbatch} has both a full B and a split I/W', 'A (stage, microbatch) has both B and I/W.'),
  orderWithinStage: error(4023, '{action} on device {device} step {step} runs before {before} of the same stage and microbatch', 'Per stage the order must be F, then I or B, then W.'),
  dependencyOrder: error(4024, '{action} on device {device} step {step} needs {needed} (device {neededDevice}), which can never finish before it: {why}', 'A cross-stage dependency cannot be met by the order.'),
  actionMicrobatchOutOfRange: error(4028, '{action} on device {device} step {step} names microbatch {microbatch}, but the microbatches are 0..{last}', 'An action in an order names a microbatch that does not exist.'),
  splitRequired: error(4029, "schedule '{schedule}' requires split backward, but device {device} runs a full backward ({action})", 'An explicit schedule that `requires split backward` uses B.'),
  wrongDevice: error(4025, '{action} runs on device {device} (step {step}), but stage {stage} is placed on device {placed}', 'An action runs on a device other than the one its stage is placed on.'),
  stageOutOfRange: error(4026, '{action} on device {device} step {step} names stage {stage}, but the pipeline has {stages} stages', 'An action names a stage that does not exist.'),
  overlapNotAdjacent: error(4027, 'overlap group {group} on device {device} is split around step {step}', 'Actions of one overlap group must be adjacent in the order.'),
  deadlock: error(4030, 'the order deadlocks: {detail}', 'After send/recv insertion, some device waits for a message that is never sent.'),
  // PyTorch CSV
  csvBadCell: error(4040, "cell '{cell}' is not a PyTorch schedule action (expected e.g. 0F3, 1I2, 1W2, 1B2, (0F7;7B3)OVERLAP_F_B or empty)", 'A CSV cell that is not a compute action.'),
  csvCommsCell: warning(4041, "cell '{cell}' is a communication action; pipec inserts its own sends and receives, so it is ignored", 'A compute_comms CSV: the SEND/RECV cells are ignored.'),
  csvEmpty: error(4042, 'the CSV has no actions', 'An empty CSV.'),
  csvStageOnTwoRanks: error(4043, 'stage {stage} appears on rank {rank} and on rank {other}', 'A stage whose actions are spread over two ranks.'),
} as const satisfies Record<string, MessageDefinition>;
