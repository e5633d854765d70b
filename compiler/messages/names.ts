// PIPE2xxx — names and types: imports, declarations, layers and their
// arguments, shapes, the loss, clusters and pipeline settings. One entry per
// code; docs/diagnostics.md is generated from this table
// (scripts/gen-diagnostics-doc.ts) and every code has a golden case under
// test/cases/diagnostics/.

import type { MessageDefinition } from '../../grammar/diagnostic.ts';

function error(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'error', template, summary };
}

function warning(code: number, template: string, summary: string): MessageDefinition {
  return { code: `PIPE${code}`, severity: 'warning', template, summary };
}

export const NameMessages = {
  duplicateDeclaration: error(2001, "{kind} '{name}' is declared more than once", 'Two top-level declarations of the same kind share a name.'),
  unknownModel: error(2002, "unknown model '{name}'", 'A pipeline names a model that is not declared.'),
  unknownOperator: error(2003, "unknown layer type '{name}'", 'A layer uses an operator that is neither in the built-in catalog nor an extern layer.'),
  unknownArgument: error(2004, "{callee} has no argument '{name}'", 'A call passes an argument the callee does not take.'),
  duplicateArgument: error(2005, "argument '{name}' is given more than once", 'The same argument appears twice in one call.'),
  missingArgument: error(2006, "{callee} needs the argument '{name}'", 'A required argument is missing.'),
  argumentType: error(2007, "argument '{name}' of {callee} must be {expected}, got {actual}", 'An argument has the wrong type (int, float, bool or one of a set of names).'),
  argumentRange: error(2008, "argument '{name}' of {callee} must be {bound}, got {actual}", 'A numeric argument is outside its allowed range.'),
  unknownName: error(2009, "unknown name '{name}'{context}", 'An expression refers to a name that is not a dim, loop variable or parameter in scope.'),
  unknownDtype: error(2010, "unknown element type '{name}'", 'A tensor type uses an element type other than f32, f16, bf16 or i32.'),
  duplicateLayer: error(2011, "layer '{name}' is declared more than once in model '{model}'", 'Two layers (or tensors) of one model share a name.'),
  shapeMismatch: error(2012, "{layer} expects {expected}, got {actual}: {reason}", "A layer's input shape is not one its operator accepts."),
  residualShape: error(2013, "residual block '{name}' must keep its input shape {input}, but its body produces {output}", 'The body of a residual block changes the shape, so the input cannot be added back.'),
  lossNotLastLayer: error(2014, "the loss must take the model's last layer '{last}' first, got '{name}'", "The loss's first argument is not the last layer."),
  lossNotTarget: error(2015, "the loss's second argument must be a target tensor, got '{name}'", "The loss's second argument is not declared with `target`."),
  lossShape: error(2016, '{function} cannot compare {output} with target {target}: {reason}', "The last layer's output and the target have incompatible shapes for the loss."),
  unknownLoss: error(2017, "unknown loss function '{name}'", 'The loss is not one of the supported functions.'),
  incompleteModel: error(2018, "model '{name}' has no {what}", 'A model lacks an input, a layer or a loss.'),
  importNotFound: error(2019, "cannot find the imported file '{path}'", 'An import names a file the host cannot read.'),
  importCycle: error(2020, 'import cycle: {cycle}', 'Files import each other in a cycle.'),
  unknownLibrary: error(2021, "unknown standard library module '{name}'", 'An `std:` import names a module the standard library does not have.'),
  externNotFound: error(2022, "{problem}", 'An extern layer names a TypeScript file that is missing or does not export the layer.'),
  externParameterMismatch: error(2023, "extern layer '{name}': {problem}", "An extern layer's declared parameters disagree with its TypeScript implementation."),
  notConstant: error(2024, '{what} must be a number here', 'An expression that must evaluate to a number does not.'),
  unknownCluster: error(2025, "unknown cluster '{name}'", 'A pipeline names a cluster that is not declared.'),
  unknownUnit: error(2026, "unknown unit '{unit}' for {property}", 'A quantity uses a unit that is not known for its property.'),
  unknownProperty: error(2027, "unknown {owner} property '{name}'", 'A device or link has a property other than the known ones.'),
  propertyKind: error(2028, "{property} must be {expected}, got '{actual}'", 'A property has a value of the wrong kind (for example memory given in seconds).'),
  duplicateDevice: error(2029, "device '{name}' is declared more than once in cluster '{cluster}'", 'Two devices of one cluster share a name.'),
  unknownDevice: error(2030, "unknown device '{name}' in cluster '{cluster}'", 'A link or a stage names a device that the cluster does not declare.'),
  unknownSetting: error(2031, "unknown pipeline setting '{name}'", 'A pipeline has a setting other than the known ones.'),
  duplicateSetting: error(2032, "the pipeline setting '{name}' is given more than once", 'A pipeline setting appears twice.'),
  settingType: error(2033, "the pipeline setting '{name}' must be {expected}", 'A pipeline setting has a value of the wrong kind.'),
  unknownOptimizer: error(2034, "unknown optimizer '{name}'", 'The optimizer is not sgd, momentum or adam.'),
  unknownData: error(2035, "unknown data source '{name}'", 'The data source is not mnist, synthetic or chars.'),
  unknownSchedule: error(2036, "unknown schedule '{name}'", 'A pipeline uses a schedule that is neither declared nor in the standard library.'),
  scheduleArgument: error(2037, "schedule '{name}': {problem}", "A schedule use passes arguments that do not match the schedule's parameters."),
  unknownPipeline: error(2038, "no pipeline named '{name}' in {file}", 'The pipeline asked for (--pipeline) is not declared.'),
  autoMemory: error(2039, "auto schedule memory must be a byte quantity (e.g. 8GiB) or K * activations(SCHEDULE), got {actual}", 'The memory bound of `schedule auto(memory: ...)` is neither bytes nor a multiple of a schedule\'s activations.'),
  missingSetting: error(2040, "pipeline '{name}' has no {setting}", 'A required pipeline setting (model, cluster, batch, microbatches, stages, schedule, optimizer) is missing.'),
  missingMemory: error(2041, "device '{name}' has no memory capacity", 'Every device must declare `memory`.'),
  emptyRepeat: warning(2042, "repeat range {range} is empty, so the block declares nothing", 'A repeat block iterates over an empty range.'),
  externShapeMismatch: error(2043, "extern layer '{name}' expects {expected}, got {actual}", "An extern layer's input does not match its declared shape pattern."),
  dataMismatch: error(2044, 'data {data} gives {gives}, but model \'{model}\' takes {takes}', "The pipeline's data source does not produce the model's input or target shapes."),
  tooLarge: error(2045, '{what} has {count} elements; at most {limit} are allowed', 'A repeat block or device array is implausibly large (a typo such as 0..10000000).'),
} as const satisfies Record<string, MessageDefinition>;

export const NAME_MESSAGES: readonly MessageDefinition[] = Object.values(NameMessages);
