// Every sample checks clean, and its CheckedProgram has every field later
// phases rely on.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, printDocument } from '../../grammar/index.ts';
import { checkLikeCli, checkOnDisk } from '../helpers/compileFiles.ts';

const samples = readdirSync('samples').filter((file) => file.endsWith('.pipe')).sort();

describe('samples', () => {
  test('the required samples exist', () => {
    for (const name of ['mlp', 'gpt', 'cnn', 'v_shape', 'custom_schedule', 'interleaved', 'swiglu', 'frozen_encoder', 'unet', 'gpt_vocab']) {
      expect(samples).toContain(`${name}.pipe`);
    }
  });

  for (const file of samples) {
    test(`${file} checks clean with a complete program`, () => {
      const result = checkOnDisk(path.join('samples', file));
      expect(result.diagnostics.map((d) => d.message)).toEqual([]);
      const program = result.program!;
      const { model, pipeline, cluster } = program;
      expect(model.layers.length).toBeGreaterThan(0);
      // Copy 0 (every stage of a single-copy placement) takes each layer once, in order; a
      // mirrored placement's copy 1 repeats the layers of the stage it copies; a
      // vocab_parallel layer is taken by one shard stage per device instead.
      const copy0 = pipeline.stages.filter((stage) => (stage.copy ?? 0) === 0 && stage.vocabShard === undefined);
      const shards = pipeline.stages.filter((stage) => stage.vocabShard !== undefined);
      const vocabLayer = pipeline.vocabParallel?.layer;
      expect(copy0.flatMap((s) => s.layers)).toEqual(model.layers.map((_, i) => i).filter((i) => i !== vocabLayer));
      expect(shards.map((stage) => [stage.device, stage.layers])).toEqual(vocabLayer === undefined ? [] : Array.from({ length: pipeline.devicesPerReplica }, (_, k) => [k, [vocabLayer]]));
      for (const stage of pipeline.stages) if (stage.modelStage !== undefined) expect(stage.layers).toEqual(pipeline.stages[stage.modelStage].layers);
      for (const layer of model.layers) {
        expect(layer.outputBytes).toBeGreaterThan(0);
        // Flatten is a reshape, and a merge (Add, Concat) hands its gradient to both inputs: they keep nothing for their backward.
        if (!['Flatten', 'Add', 'Concat'].includes(layer.operator)) expect(layer.activationBytes).toBeGreaterThan(0);
      }
      for (const stage of pipeline.stages) {
        expect(stage.device).toBeLessThan(pipeline.devicesPerReplica);
        expect(cluster.devices[stage.device].flopsPerSecond).toBeGreaterThan(0);
        expect(stage.costs.activationBytes).toBeGreaterThan(0);
      }
      for (let s = 1; s < copy0.length; s++) {
        expect(copy0[s].inputShape).toEqual(copy0[s - 1].outputShape);
      }
      expect(pipeline.microbatchSize * pipeline.microbatches).toBe(pipeline.batch);
      expect(program.sources.has(path.join('samples', file))).toBe(true);
      expect(pipeline.data).toBeDefined();
    });
  }

  test('every sample is in the canonical format (`pipec fmt --check samples/*.pipe`)', () => {
    for (const file of samples) {
      const text = readFileSync(path.join('samples', file), 'utf8');
      expect(printDocument(parse({ name: file, text }).document, { text }), file).toBe(text);
    }
  });

  test('every pipeline of every sample compiles: schedule valid, deadlock-free, within memory', () => {
    for (const file of samples) {
      const result = checkLikeCli(path.join('samples', file));
      expect(result.diagnostics.map((d) => `${file}: ${d.code} ${d.message}`)).toEqual([]);
    }
  });

  test('the GPT sample counts its parameters as the catalog says', () => {
    const result = checkOnDisk('samples/gpt.pipe');
    const layers = result.program!.model.layers;
    const d = 64;
    const block = 4 * d + 4 * d * d + 4 * d + (d * 256 + 256 + 256 * d + d);
    expect(layers.map((layer) => layer.parameters)).toEqual([96 * d, block, block, block, block, 2 * d, d * 96 + 96]);
  });

  test('the extern layer sample records its implementation', () => {
    const result = checkOnDisk('samples/swiglu.pipe');
    const glu = result.program!.model.layers[1].children[1];
    expect(glu).toMatchObject({ name: 'ffn[0].glu', operator: 'SwiGLU', args: { hidden: 128 }, implementation: path.join('samples', 'layers', 'swiglu.ts') });
  });

  test('the vocabulary-parallel GPT sample splits its head over the four workers, 24 characters each', () => {
    const { pipeline, model } = checkOnDisk('samples/gpt_vocab.pipe').program!;
    const head = model.layers.findIndex((layer) => layer.name === 'head');
    expect(pipeline.vocabParallel).toMatchObject({ name: 'head', layer: head, shards: 4 });
    const shards = pipeline.stages.filter((stage) => stage.vocabShard !== undefined);
    expect(shards.map((stage) => stage.vocabShard)).toEqual([0, 1, 2, 3].map((shard) => ({ layer: head, shard, shards: 4, units: 24 })));
    // the last stage no longer holds the head: its parameters are the shards'
    expect(pipeline.stages[3].layers).not.toContain(head);
    const whole = checkOnDisk('samples/gpt.pipe').program!.pipeline;
    expect(whole.stages[3].costs.parameters - pipeline.stages[3].costs.parameters).toBe(model.layers[head].parameters);
    expect(shards.reduce((sum, stage) => sum + stage.costs.parameters, 0)).toBe(model.layers[head].parameters);
  });
});
