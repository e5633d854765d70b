// Generates docs/layers.md, the layer reference, from the catalog
// (compiler/layers/catalog.ts): every built-in layer kind with its
// arguments (type, allowed values, default), its shape rule, its cost rule
// and one use worked out by the catalog's own shape and cost functions.
// Run: `npm run docs:layers`; test/check/layersDoc.test.ts fails when the
// committed doc is stale.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  describeBound, formatShape, LAYER_KINDS, lookupLayer, lookupMerge, MERGE_KINDS, RESIDUAL_BLOCK, withDefaults,
  type ArgumentSchema, type ArgumentValue, type CostRule, type LayerArguments, type LayerCosts, type LayerDefinition, type MergeDefinition,
} from '../compiler/index.ts';

export const DOC_PATH = 'docs/layers.md';

const cell = (text: string): string => text.replace(/\|/g, '\\|');
const code = (text: string): string => `\`${text}\``;
const count = (value: number): string => value.toLocaleString('en-US');

/** An argument value as it is written in a .pipe file: enum names bare, strings quoted. */
function writtenValue(schema: ArgumentSchema, value: ArgumentValue): string {
  if (schema.type === 'string') return JSON.stringify(value);
  return String(value);
}

/** How a layer with these arguments is written: `Dense(units: 256, activation: relu)`, or `ReLU`. */
export function writtenCall(definition: { readonly name: string; readonly arguments: readonly ArgumentSchema[] }, args: LayerArguments): string {
  const given = definition.arguments.filter((schema) => Object.hasOwn(args, schema.name));
  if (given.length === 0) return definition.name;
  return `${definition.name}(${given.map((schema) => `${schema.name}: ${writtenValue(schema, args[schema.name])}`).join(', ')})`;
}

function allowed(schema: ArgumentSchema): string {
  switch (schema.type) {
    case 'enum': return (schema.values ?? []).map(code).join(' \\| ');
    case 'bool': return '`true`, `false`';
    case 'string': return 'a string';
    case 'layer': return 'the name of an earlier layer';
    case 'int':
    case 'float': {
      const bound = describeBound(schema);
      return bound === 'any number' ? (schema.type === 'int' ? 'any integer' : 'any number') : bound;
    }
  }
}

function defaultOf(schema: ArgumentSchema): string {
  if (schema.required) return 'required';
  if (schema.defaultFrom !== undefined) return `the value of ${code(schema.defaultFrom)}`;
  if (schema.default !== undefined) return code(writtenValue(schema, schema.default));
  return 'none';
}

function argumentTable(schema: readonly ArgumentSchema[]): string[] {
  if (schema.length === 0) return ['Takes no arguments.', ''];
  return [
    'Arguments (positional ones bind in this order):',
    '',
    '| Argument | Type | Allowed | Default | Description |',
    '|---|---|---|---|---|',
    ...schema.map((s) => `| ${code(s.name)} | ${s.type} | ${allowed(s)} | ${defaultOf(s)} | ${cell(s.description)} |`),
    '',
  ];
}

function costTable(rule: CostRule): string[] {
  return [
    'Cost per example:',
    '',
    '| | Formula |',
    '|---|---|',
    `| Parameters | ${cell(rule.parameters)} |`,
    `| Forward FLOPs | ${cell(rule.forwardFlops)} |`,
    `| Backward-input FLOPs | ${cell(rule.backwardInputFlops)} |`,
    `| Backward-weight FLOPs | ${cell(rule.backwardWeightFlops)} |`,
    `| Activation bytes | ${cell(rule.activationBytes)} |`,
    `| Kept from I until W | ${cell(rule.weightGradientBytes ?? '0 (no weights: everything is freed at I)')} |`,
    '',
    ...(rule.where === undefined ? [] : [`where ${rule.where}.`, '']),
  ];
}

function workedExample(definition: LayerDefinition): string[] {
  const { input } = definition.example;
  const args = withDefaults(definition, definition.example.args);
  const shape = definition.inferShape(input, args);
  if (!shape.ok) throw new Error(`the catalog's example for ${definition.name} does not check: ${shape.reason}`);
  const costs: LayerCosts = definition.costs(input, shape.shape, args);
  return [
    `Example: ${code(writtenCall(definition, definition.example.args))} on ${code(formatShape(input))} gives ${code(formatShape(shape.shape))}`
      + (Object.keys(args).length > Object.keys(definition.example.args).length ? ` (with every argument: ${code(writtenCall(definition, args))})` : '') + '.',
    `Per example it has ${count(costs.parameters)} parameters, ${count(costs.forwardFlops)} forward FLOPs,`
      + ` ${count(costs.backwardInputFlops)} backward-input and ${count(costs.backwardWeightFlops)} backward-weight FLOPs,`
      + ` and keeps ${count(costs.activationBytes)} activation bytes (output ${count(costs.outputBytes)} bytes)`
      + `; a split backward keeps ${count(costs.weightGradientBytes ?? costs.activationBytes)} bytes from I until W.`,
    '',
  ];
}

/** A merge's use worked out: its example input and skip, the skip written as a layer named `enc`. */
function workedMergeExample(definition: MergeDefinition): string[] {
  const { input, skip } = definition.example;
  const written = { skip: 'enc', ...definition.example.args };
  const args = withDefaults(definition, written);
  const shape = definition.inferShape(input, skip, args);
  if (!shape.ok) throw new Error(`the catalog's example for ${definition.name} does not check: ${shape.reason}`);
  const costs: LayerCosts = definition.costs(input, skip, shape.shape, args);
  return [
    `Example: ${code(writtenCall(definition, written))} on ${code(formatShape(input))}, with ${code('enc')} producing ${code(formatShape(skip))}, gives ${code(formatShape(shape.shape))}`
      + (Object.keys(args).length > Object.keys(written).length ? ` (with every argument: ${code(writtenCall(definition, args))})` : '') + '.',
    `Per example it has ${count(costs.forwardFlops)} forward and ${count(costs.backwardInputFlops)} backward-input FLOPs and keeps ${count(costs.activationBytes)} activation bytes (output ${count(costs.outputBytes)} bytes).`,
    '',
  ];
}

const anchor = (name: string): string => name.toLowerCase();

export function generateLayersDoc(): string {
  const definitions = LAYER_KINDS.map((kind) => lookupLayer(kind)!);
  const merges = MERGE_KINDS.map((kind) => lookupMerge(kind)!);
  const out: string[] = [
    '# Layers',
    '',
    '<!-- Generated by scripts/gen-layers-doc.ts from compiler/layers/catalog.ts. Do not edit by hand: run `npm run docs:layers`. -->',
    '',
    'The built-in layer kinds a model can use, `layer NAME = Kind(arg: value, ...)` (the parentheses may be',
    'left out when no argument is given). Each kind is defined once, in `compiler/layers/catalog.ts`: its',
    'arguments, its shape rule and its costs; the runtime\'s implementation (`runtime/layers/registry.ts`) is',
    'typed against the same argument records. The checker fills in every default, so the IR and the runtime',
    'see every argument. Layers not listed here are declared with `extern layer` ([language.md](language.md#extern-layers)).',
    '',
    'Conventions: the first dimension is the example dimension (usually the symbolic `batch`) and every cost is',
    'per example, so the cost model multiplies by the microbatch size. A multiply-add counts as 2 FLOPs.',
    'Backward-input (I) and backward-weight (W) FLOPs are counted apart for split-backward schedules.',
    'Activation bytes are what a layer keeps from its forward until its backward without recomputation.',
    '[costs.md](costs.md) explains how the costs become times and memory.',
    '',
    '| Layer | Summary |',
    '|---|---|',
    ...definitions.map((d) => `| [${d.name}](#${anchor(d.name)}) | ${cell(d.summary)} |`),
    ...merges.map((d) => `| [${d.name}](#${anchor(d.name)}) | ${cell(d.summary)} |`),
    `| [residual blocks](#residual-blocks) | ${cell(RESIDUAL_BLOCK.summary)} |`,
    '',
  ];
  for (const definition of definitions) {
    out.push(
      `## ${definition.name}`,
      '',
      `${definition.summary}.`,
      '',
      ...argumentTable(definition.arguments),
      `Shape: ${definition.shapeRule}.`,
      '',
      ...costTable(definition.costRule),
      ...workedExample(definition),
    );
  }
  for (const definition of merges) {
    out.push(
      `## ${definition.name}`,
      '',
      `${definition.summary}. A merge layer: its ${code('skip')} names an earlier layer of the same model level, whose output is its second input;`,
      'the two ends may lie in different stages and devices ([skip connections](language.md#skip-connections)).',
      '',
      ...argumentTable(definition.arguments),
      `Shape: ${definition.shapeRule}.`,
      '',
      ...costTable(definition.costRule),
      ...workedMergeExample(definition),
    );
  }
  out.push(
    '## Residual blocks',
    '',
    `${RESIDUAL_BLOCK.summary}. A residual block is written \`residual NAME { members }\` inside a model (the name`,
    `may be indexed inside a repeat); it is not called as a layer. Stages take it as one unit, and the IR names it`,
    `with the operator ${code(RESIDUAL_BLOCK.name)} and its body as children.`,
    '',
    `Shape: ${RESIDUAL_BLOCK.shapeRule}.`,
    '',
    ...costTable(RESIDUAL_BLOCK.costRule),
  );
  return out.join('\n');
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(DOC_PATH, generateLayersDoc());
  process.stdout.write(`wrote ${DOC_PATH}\n`);
}
