// The JSON Schema of the instruction-stream IR (draft-07, checked with ajv).
// compiler/ir/types.ts is the TypeScript view of the same contract;
// docs/ir.md explains it. Every IR the compiler emits is validated against
// this schema in tests, and tools outside TypeScript can validate with it.

import { Ajv, type ValidateFunction } from 'ajv';
import { IR_VERSION } from './types.ts';

const nonNegativeInteger = { type: 'integer', minimum: 0 } as const;
const nonNegative = { type: 'number', minimum: 0 } as const;
const dtype = { enum: ['f32', 'i32'] } as const;
const shape = { type: 'array', items: nonNegativeInteger } as const;
const scalarRecord = { type: 'object', additionalProperties: { type: ['number', 'string', 'boolean'] } } as const;

export const instructionOps = [
  'load_microbatch', 'recv_act', 'forward', 'send_act', 'loss', 'recv_grad', 'backward', 'backward_input',
  'backward_weight', 'send_grad', 'send_stats', 'recv_stats', 'send_skip', 'recv_skip', 'send_skip_grad', 'recv_skip_grad', 'recompute', 'offload', 'reload', 'free', 'allreduce', 'optimizer_step',
] as const;

export const irJsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://pipec.dev/schema/ir-v1.json',
  title: 'pipec instruction-stream IR',
  type: 'object',
  required: ['version', 'pipeline', 'schedule', 'splitBackward', 'ranks', 'replicas', 'microbatches', 'microbatchSize', 'batch', 'seed', 'optimizer', 'model', 'stages', 'devices'],
  additionalProperties: false,
  properties: {
    version: { const: IR_VERSION },
    pipeline: { type: 'string' },
    schedule: { type: 'string' },
    splitBackward: { type: 'boolean' },
    ranks: { type: 'integer', minimum: 1 },
    replicas: { type: 'integer', minimum: 1 },
    copies: { type: 'integer', minimum: 1, maximum: 2 },
    microbatches: { type: 'integer', minimum: 1 },
    microbatchSize: { type: 'integer', minimum: 1 },
    batch: { type: 'integer', minimum: 1 },
    seed: { type: 'integer' },
    precision: { enum: ['bf16', 'fp16'] },
    optimizer: {
      type: 'object',
      required: ['name', 'args'],
      additionalProperties: false,
      properties: { name: { type: 'string' }, args: { type: 'object', additionalProperties: { type: 'number' } } },
    },
    data: {
      type: 'object',
      required: ['name', 'args'],
      additionalProperties: false,
      properties: { name: { type: 'string' }, args: scalarRecord },
    },
    model: {
      type: 'object',
      required: ['name', 'layers', 'input', 'target', 'loss'],
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        layers: { type: 'array', items: { $ref: '#/definitions/layer' } },
        input: { $ref: '#/definitions/tensor' },
        target: { $ref: '#/definitions/tensor' },
        loss: { type: 'string' },
      },
    },
    stages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['index', 'name', 'rank', 'layers', 'recompute', 'offload', 'activationBytes'],
        additionalProperties: false,
        properties: {
          index: nonNegativeInteger,
          name: { type: 'string' },
          rank: nonNegativeInteger,
          layers: { type: 'array', items: nonNegativeInteger },
          recompute: { type: 'boolean' },
          offload: { type: 'boolean' },
          activationBytes: nonNegative,
          frozen: { type: 'boolean' },
          forwardOnly: { type: 'boolean' },
          copy: nonNegativeInteger,
          modelStage: nonNegativeInteger,
          vocabShard: {
            type: 'object',
            required: ['shard', 'shards', 'units'],
            additionalProperties: false,
            properties: { shard: nonNegativeInteger, shards: { type: 'integer', minimum: 1 }, units: { type: 'integer', minimum: 1 } },
          },
        },
      },
    },
    skipEdges: {
      type: 'array',
      items: {
        type: 'object',
        required: ['source', 'merge', 'sourceStage', 'mergeStage', 'bytes'],
        additionalProperties: false,
        properties: { source: nonNegativeInteger, merge: nonNegativeInteger, sourceStage: nonNegativeInteger, mergeStage: nonNegativeInteger, bytes: nonNegative },
      },
    },
    devices: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['index', 'name', 'replica', 'rank', 'slots', 'memory', 'instructions'],
        additionalProperties: false,
        properties: {
          index: nonNegativeInteger,
          name: { type: 'string' },
          replica: nonNegativeInteger,
          rank: nonNegativeInteger,
          slots: nonNegativeInteger,
          memory: {
            type: 'object',
            required: ['weights', 'gradients', 'optimizerState', 'activations', 'peak', 'capacity'],
            additionalProperties: false,
            properties: {
              weights: nonNegative,
              gradients: nonNegative,
              optimizerState: nonNegative,
              activations: nonNegative,
              peak: nonNegative,
              capacity: nonNegative,
            },
          },
          instructions: { type: 'array', items: { $ref: '#/definitions/instruction' } },
        },
      },
    },
  },
  definitions: {
    tensor: {
      type: 'object',
      required: ['name', 'shape', 'dtype'],
      additionalProperties: false,
      properties: { name: { type: 'string' }, shape, dtype },
    },
    layer: {
      type: 'object',
      required: ['name', 'operator', 'args', 'inputShape', 'outputShape', 'inputDtype', 'outputDtype', 'parameters', 'children'],
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        operator: { type: 'string' },
        args: scalarRecord,
        inputShape: shape,
        outputShape: shape,
        inputDtype: dtype,
        outputDtype: dtype,
        parameters: nonNegativeInteger,
        children: { type: 'array', items: { $ref: '#/definitions/layer' } },
        implementation: { type: 'string' },
        parametersDeclared: { type: 'boolean' },
        frozen: { type: 'boolean' },
      },
    },
    instruction: {
      type: 'object',
      required: ['op', 'stage'],
      additionalProperties: false,
      properties: {
        op: { enum: instructionOps },
        stage: nonNegativeInteger,
        microbatch: nonNegativeInteger,
        slot: nonNegativeInteger,
        peer: nonNegativeInteger,
        peerStage: nonNegativeInteger,
        bytes: nonNegative,
        checkpoint: { type: 'boolean' },
        edge: nonNegativeInteger,
        group: { type: 'array', items: nonNegativeInteger, minItems: 1 },
        source: {
          type: 'object',
          required: ['file', 'start', 'end'],
          additionalProperties: false,
          properties: { file: { type: 'string' }, start: nonNegativeInteger, end: nonNegativeInteger },
        },
      },
      allOf: [
        // What each op must name: the runtime relies on these.
        { if: { properties: { op: { enum: ['recv_act', 'send_act', 'recv_grad', 'send_grad', 'send_stats', 'recv_stats'] } } }, then: { required: ['microbatch', 'slot', 'peer', 'bytes'] } },
        { if: { properties: { op: { enum: ['send_skip', 'recv_skip', 'send_skip_grad', 'recv_skip_grad'] } } }, then: { required: ['microbatch', 'slot', 'peer', 'bytes', 'edge'] } },
        { if: { properties: { op: { enum: ['load_microbatch', 'forward', 'loss', 'backward', 'backward_input', 'backward_weight', 'recompute', 'free'] } } }, then: { required: ['microbatch', 'slot'] } },
        { if: { properties: { op: { enum: ['offload', 'reload'] } } }, then: { required: ['microbatch', 'slot', 'bytes'] } },
        { if: { properties: { op: { const: 'allreduce' } } }, then: { required: ['group', 'bytes'] } },
        { if: { properties: { op: { enum: ['send_stats', 'recv_stats'] } } }, then: { required: ['peerStage'] } },
      ],
    },
  },
} as const;

let compiled: ValidateFunction | undefined;

export interface IrValidation {
  readonly valid: boolean;
  /** ajv's messages with the JSON pointer of each offending value. */
  readonly errors: string[];
}

/** Validates an IR value (parsed JSON or an IrProgram) against the schema. */
export function validateIr(ir: unknown): IrValidation {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    compiled = ajv.compile(irJsonSchema);
  }
  const valid = compiled(ir) as boolean;
  const errors = valid ? [] : (compiled.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
  return { valid, errors };
}
