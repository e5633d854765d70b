// compiler/placement.ts: the stage → rank maps of loop, v and wave for
// several P and v, classification of written maps (round trip), explicit
// maps, describing and parsing names.

import { describe, expect, it } from 'vitest';
import {
  barePlacement, classifyPlacement, describePlacement, describeStageDevices, explicitPlacement, isPlacementProblem, isZigZag,
  parsePlacementKind, placeRegular, placementFromDeclaration, placementNameSuggestion, regularPlacementProblem, satisfiesPlacement,
  REGULAR_PLACEMENT_KINDS, isMirroredKind, classifyCopies, scheduleStageDevices, placeForSchedule,
} from '../../compiler/placement.ts';

describe('regular placements', () => {
  it('loop puts stage s on rank s mod P', () => {
    expect(placeRegular('loop', 4, 1).stageDevice).toEqual([0, 1, 2, 3]);
    expect(placeRegular('loop', 3, 2).stageDevice).toEqual([0, 1, 2, 0, 1, 2]);
    expect(placeRegular('loop', 2, 3).stageDevice).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('v zig-zags down and back up, with an even number of laps', () => {
    expect(placeRegular('v', 4, 2).stageDevice).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    expect(placeRegular('v', 2, 4).stageDevice).toEqual([0, 1, 1, 0, 0, 1, 1, 0]);
    expect(() => placeRegular('v', 4, 3)).toThrow(/even/);
  });

  it('wave is the zig-zag with any number of laps (Hanayo)', () => {
    expect(placeRegular('wave', 3, 3).stageDevice).toEqual([0, 1, 2, 2, 1, 0, 0, 1, 2]);
    expect(placeRegular('wave', 4, 2).stageDevice).toEqual(placeRegular('v', 4, 2).stageDevice);
    expect(placeRegular('wave', 2, 1).stageDevice).toEqual([0, 1]);
  });

  it('is one value: devices, stages, stages per device, one model copy', () => {
    const v = placeRegular('v', 4, 2);
    expect(v).toMatchObject({ kind: 'v', devices: 4, stages: 8, stagesPerDevice: 2 });
    expect(v.copies).toEqual([v.stageDevice]);
  });

  it('says when a stage count does not fit, and what would', () => {
    expect(regularPlacementProblem('loop', 4, 8)).toBeUndefined();
    expect(regularPlacementProblem('wave', 4, 12)).toBeUndefined();
    expect(regularPlacementProblem('v', 4, 12)).toMatchObject({ nearestStages: 16 });
    expect(regularPlacementProblem('v', 4, 12)!.problem).toBe('placement v on 4 device(s) needs an even number of stages per device (a multiple of 8), got 12 stages');
    expect(regularPlacementProblem('loop', 4, 6)!.problem).toContain('a multiple of 4');
    const declared = placementFromDeclaration({ kind: 'v', devices: 2, stages: 6 });
    expect(isPlacementProblem(declared)).toBe(true);
    const written = placementFromDeclaration({ stageDevice: [0, 1, 1], devices: 2 });
    expect(written).toMatchObject({ kind: 'explicit', stagesPerDevice: 1.5 });
  });
});

describe('classifying a map', () => {
  it('round-trips every regular kind for several P and v', () => {
    for (const devices of [1, 2, 3, 4, 8]) {
      for (const perDevice of [1, 2, 3, 4]) {
        for (const kind of REGULAR_PLACEMENT_KINDS.filter((name) => !isMirroredKind(name))) {
          if (kind === 'v' && perDevice % 2 !== 0) continue;
          const placed = placeRegular(kind, devices, perDevice);
          const classified = classifyPlacement(placed.stageDevice, devices);
          // One stage per device (or one device) is every kind at once: loop wins; an even zig-zag is v.
          const expected = perDevice === 1 || devices === 1 ? 'loop' : kind === 'wave' && perDevice % 2 === 0 ? 'v' : kind;
          expect(classified.kind, `${kind} ${devices}x${perDevice}`).toBe(expected);
          expect(classified.stageDevice).toEqual(placed.stageDevice);
          expect(satisfiesPlacement(classified, kind)).toBe(true);
        }
      }
    }
  });

  it('leaves an irregular map explicit, and a written map that is v-shaped satisfies v', () => {
    expect(classifyPlacement([0, 1, 1]).kind).toBe('explicit');
    expect(classifyPlacement([1, 0]).kind).toBe('explicit');
    const written = explicitPlacement([0, 1, 1, 0], 2);
    expect(written.kind).toBe('explicit');
    expect(satisfiesPlacement(written, 'v')).toBe(true);
    expect(satisfiesPlacement(written, 'loop')).toBe(false);
    expect(satisfiesPlacement(written, 'explicit')).toBe(true);
    expect(satisfiesPlacement(placeRegular('wave', 3, 3), 'v')).toBe(false);
    expect(satisfiesPlacement(placeRegular('v', 3, 2), 'wave')).toBe(true);
  });

  it('has room for two model copies, which satisfy no single-copy kind yet', () => {
    const single = placeRegular('v', 2, 2);
    const mirrored = { ...single, copies: [single.stageDevice, [...single.stageDevice].reverse()] };
    expect(satisfiesPlacement(mirrored, 'v')).toBe(false);
  });
});

describe('names', () => {
  it('parses the kinds and suggests the closest for a typo', () => {
    expect(parsePlacementKind('wave')).toBe('wave');
    expect(parsePlacementKind('explicit')).toBeUndefined();
    const at = { file: 'p.pipe', start: 20, end: 23 };
    expect(placementNameSuggestion('lop', at)).toEqual({ hint: "did you mean 'loop'?", suggestion: { span: at, replacement: 'loop' } });
    expect(placementNameSuggestion('zigzag', at)).toEqual({ hint: "expected one of: 'loop', 'v', 'wave', 'mirror', 'mirror_v'" });
  });

  it('describes placements for messages', () => {
    expect(describePlacement(placeRegular('loop', 2, 2))).toBe('loop');
    expect(describePlacement(explicitPlacement([0, 1]))).toBe('explicitly');
    expect(describeStageDevices([0, 1, 1, 0])).toBe('v');
    expect(describeStageDevices([0, 1, 1])).toBe('as [0, 1, 1]');
  });

  it('bare mode zig-zags an even v and loops an odd one', () => {
    expect(barePlacement(2, 2).kind).toBe('v');
    expect(barePlacement(2, 3).kind).toBe('loop');
    expect(isZigZag(barePlacement(4, 2))).toBe(true);
    expect(isZigZag(barePlacement(4, 1))).toBe(false);
  });
});

describe('mirrored placements (two model copies sharing the ranks)', () => {
  it('puts copy 1 of every stage on the mirrored rank', () => {
    const mirror = placeRegular('mirror', 4, 1);
    expect(mirror.copies).toEqual([[0, 1, 2, 3], [3, 2, 1, 0]]);
    expect(scheduleStageDevices(mirror)).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    // BitPipe's two V-shaped pipelines in opposite directions
    const mirrorV = placeRegular('mirror_v', 4, 2);
    expect(mirrorV.copies).toEqual([[0, 1, 2, 3, 3, 2, 1, 0], [3, 2, 1, 0, 0, 1, 2, 3]]);
    expect(placeForSchedule('mirror_v', 4, 4).copies).toEqual(mirrorV.copies);
  });

  it('needs an even number of devices, and mirrored maps satisfy only mirrored kinds', () => {
    expect(placementFromDeclaration({ kind: 'mirror', devices: 3, stages: 3 })).toMatchObject({ problem: expect.stringContaining('even number of devices') });
    const mirror = placeRegular('mirror', 4, 1);
    expect(satisfiesPlacement(mirror, 'mirror')).toBe(true);
    expect(satisfiesPlacement(mirror, 'mirror_v')).toBe(false);
    expect(satisfiesPlacement(mirror, 'loop')).toBe(false);
    expect(satisfiesPlacement(placeRegular('loop', 4, 2), 'mirror')).toBe(false);
  });

  it('classifies a schedule map over two copies', () => {
    expect(classifyCopies([0, 1, 2, 3, 3, 2, 1, 0], 4, 2).kind).toBe('mirror');
    expect(classifyCopies(scheduleStageDevices(placeRegular('mirror_v', 2, 2)), 2, 2).kind).toBe('mirror_v');
    expect(classifyCopies([0, 1, 2, 3, 0, 1, 2, 3], 4, 2).kind).toBe('explicit');
  });
});
