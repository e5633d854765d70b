// A placement is data: which pipeline rank (device) runs each stage. Every
// placement, declared (`stages placement v { ... }`, `stages auto(8)
// placement wave`), written out stage by stage (`s0 on gpu[0] = ...`) or
// read from a PyTorch CSV, is one value of the type below, and this is the
// only module that knows the placements by name.
//
// The regular kinds, for P ranks and v stages per device (n = P·v stages):
//  - loop: stage s on rank s mod P (Megatron's interleaving);
//  - v:    a zig-zag, down 0..P-1 and back up P-1..0, with an even number of
//          laps (v = 2 is the V of ZB-V and DualPipeV);
//  - wave: the same zig-zag with any number of laps (Hanayo's waves).
// An explicit map is any other stage → rank assignment. A map written
// explicitly that happens to be loop- or v-shaped satisfies a schedule's
// `requires placement`, because requirements look at the map, not at how it
// was declared.
//
// Two model copies sharing the ranks (the mirrored placements of DualPipe,
// Chimera and BitPipe) have one stage → rank map per copy in `copies`. Only
// single-copy placements are produced today; a mirrored kind is a later issue.

import type { Suggestion } from '../grammar/diagnostic.ts';
import type { Span } from '../grammar/source.ts';
import { suggestName } from './check/suggest.ts';

export type RegularPlacementKind = 'loop' | 'v' | 'wave';
export type PlacementKind = RegularPlacementKind | 'explicit';

/** The kinds a declaration may name, in the order documentation lists them. */
export const REGULAR_PLACEMENT_KINDS: readonly RegularPlacementKind[] = ['loop', 'v', 'wave'];

export interface Placement {
  /** As declared: a regular kind, or explicit for stages that name their device. */
  readonly kind: PlacementKind;
  /** Pipeline ranks P. */
  readonly devices: number;
  /** Stages n of one model copy. */
  readonly stages: number;
  /** n / P; a whole number for the regular kinds, possibly not for an explicit map. */
  readonly stagesPerDevice: number;
  /** stageDevice[s] = the rank that runs stage s (of copy 0). */
  readonly stageDevice: readonly number[];
  /**
   * One stage → rank map per model copy; copies[0] is stageDevice. Mirrored
   * placements (two copies, the second running the stages the other way)
   * will add a second map here; nothing produces one yet.
   */
  readonly copies: readonly (readonly number[])[];
}

/** Why a regular placement cannot be built for a shape (a sentence, and a fix when there is one). */
export interface PlacementProblem {
  readonly problem: string;
  /** The smallest stage count at least as large that would fit, to suggest. */
  readonly nearestStages: number;
}

/** `v` → 'v'; anything else → undefined (see placementNameSuggestion). */
export function parsePlacementKind(name: string): RegularPlacementKind | undefined {
  return (REGULAR_PLACEMENT_KINDS as readonly string[]).includes(name) ? (name as RegularPlacementKind) : undefined;
}

/** For an unknown placement name written at `span`: a did-you-mean (with its fix), or the list of placements. */
export function placementNameSuggestion(name: string, span: Span): { readonly hint?: string; readonly suggestion?: Suggestion } {
  return suggestName(name, REGULAR_PLACEMENT_KINDS, span, { otherwise: `placements are ${listPlacementKinds(' and ')}` });
}

/** 'loop, v, wave' (or with another separator before the last). */
export function listPlacementKinds(lastSeparator = ', ', separator = ', '): string {
  const names = [...REGULAR_PLACEMENT_KINDS];
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(separator)}${lastSeparator}${names[names.length - 1]}`;
}

/** How many stages a regular kind places per lap of all ranks: the stage count must be a multiple. */
export function stageMultiple(kind: RegularPlacementKind, devices: number): number {
  return kind === 'v' ? 2 * devices : devices;
}

/** Undefined when `stages` stages fit the kind on `devices` ranks. */
export function regularPlacementProblem(kind: RegularPlacementKind, devices: number, stages: number): PlacementProblem | undefined {
  const multiple = stageMultiple(kind, devices);
  if (Number.isInteger(stages) && stages >= 1 && stages % multiple === 0) return undefined;
  const nearestStages = Math.max(multiple, Math.round(stages / multiple) * multiple);
  const problem = kind === 'v'
    ? `placement ${kind} on ${devices} device(s) needs an even number of stages per device (a multiple of ${multiple}), got ${stages} stages`
    : `placement ${kind} on ${devices} device(s) needs the same number of stages per device (a multiple of ${multiple}), got ${stages} stages`;
  return { problem, nearestStages };
}

/** The stage → rank map of a regular kind (the shape must fit: see regularPlacementProblem). */
export function regularStageDevices(kind: RegularPlacementKind, devices: number, stagesPerDevice: number): number[] {
  const stageDevice: number[] = [];
  for (let s = 0; s < devices * stagesPerDevice; s++) {
    const lap = Math.floor(s / devices);
    const offset = s % devices;
    stageDevice.push(kind === 'loop' || lap % 2 === 0 ? offset : devices - 1 - offset);
  }
  return stageDevice;
}

/** A regular placement of P ranks × v stages per device. */
export function placeRegular(kind: RegularPlacementKind, devices: number, stagesPerDevice: number): Placement {
  if (!(Number.isInteger(devices) && devices >= 1 && Number.isInteger(stagesPerDevice) && stagesPerDevice >= 1)) {
    throw new Error(`placeRegular: ${devices} devices × ${stagesPerDevice} stages per device is not a shape`);
  }
  if (kind === 'v' && stagesPerDevice % 2 !== 0) throw new Error(`placeRegular: placement ${kind} needs an even number of stages per device, got ${stagesPerDevice}`);
  const stageDevice = regularStageDevices(kind, devices, stagesPerDevice);
  return { kind, devices, stages: stageDevice.length, stagesPerDevice, stageDevice, copies: [stageDevice] };
}

/**
 * The placement a stages declaration produces: a named regular kind placed
 * on `devices` ranks, or (kind undefined) the stage → rank map the stages
 * spelled out. A problem when the stage count does not fit the kind.
 */
export type PlacementDeclaration = RegularPlacementDeclaration | WrittenPlacementDeclaration;
export interface RegularPlacementDeclaration { readonly kind: RegularPlacementKind; readonly devices: number; readonly stages: number }
export interface WrittenPlacementDeclaration { readonly kind?: undefined; readonly stageDevice: readonly number[]; readonly devices?: number }

export function placementFromDeclaration(declared: WrittenPlacementDeclaration): Placement;
export function placementFromDeclaration(declared: PlacementDeclaration): Placement | PlacementProblem;
export function placementFromDeclaration(declared: PlacementDeclaration): Placement | PlacementProblem {
  if (declared.kind === undefined) return explicitPlacement(declared.stageDevice, declared.devices);
  const problem = regularPlacementProblem(declared.kind, declared.devices, declared.stages);
  return problem ?? placeRegular(declared.kind, declared.devices, declared.stages / declared.devices);
}

export function isPlacementProblem(value: Placement | PlacementProblem): value is PlacementProblem {
  return 'problem' in value;
}

/** A map as written (kind explicit); `devices` defaults to the highest rank used + 1. */
export function explicitPlacement(stageDevice: readonly number[], devices?: number): Placement {
  const ranks = devices ?? stageDevice.reduce((most, rank) => Math.max(most, rank + 1), 0);
  const map = [...stageDevice];
  return { kind: 'explicit', devices: ranks, stages: map.length, stagesPerDevice: ranks === 0 ? 0 : map.length / ranks, stageDevice: map, copies: [map] };
}

/**
 * The regular kind a map has, if any: loop first (one stage per device is
 * loop-shaped and zig-zag-shaped alike), then v (a zig-zag with an even
 * number of laps), then wave (any other zig-zag); explicit otherwise. Used
 * for maps the user wrote out and for imported PyTorch orders.
 */
export function classifyPlacement(stageDevice: readonly number[], devices?: number): Placement {
  const written = explicitPlacement(stageDevice, devices);
  for (const kind of REGULAR_PLACEMENT_KINDS) {
    if (mapHasKind(written, kind)) return { ...written, kind };
  }
  return written;
}

/**
 * Whether the placement satisfies a `requires placement KIND`: its map is
 * the kind's map (a v-shaped map is also a wave; explicit is any map).
 */
export function satisfiesPlacement(placement: Placement, required: PlacementKind): boolean {
  if (required === 'explicit') return true;
  if (placement.copies.length !== 1) return false; // mirrored placements satisfy no single-copy kind
  return mapHasKind(placement, required);
}

function mapHasKind(placement: Placement, kind: RegularPlacementKind): boolean {
  const { devices, stagesPerDevice, stageDevice } = placement;
  if (devices < 1 || !Number.isInteger(stagesPerDevice) || stagesPerDevice < 1) return false;
  if (kind === 'v' && stagesPerDevice % 2 !== 0) return false;
  const expected = regularStageDevices(kind, devices, stagesPerDevice);
  return expected.length === stageDevice.length && expected.every((rank, stage) => rank === stageDevice[stage]);
}

/** For messages, how the stages were declared: 'loop', 'v', 'wave' or 'explicitly' (written stage by stage). */
export function describePlacement(placement: Placement): string {
  if (placement.kind === 'explicit') return 'explicitly';
  return placement.kind;
}

/** describePlacement of what the map is, whatever was declared: 'v', or 'as [0, 1, 1, 0]'. */
export function describeStageDevices(stageDevice: readonly number[], devices?: number): string {
  const kind = classifyPlacement(stageDevice, devices).kind;
  return kind === 'explicit' ? `as [${stageDevice.join(', ')}]` : kind;
}

/** The placement `stages auto(N)` uses when the declaration names none. */
export const DEFAULT_PLACEMENT_KIND: RegularPlacementKind = 'loop';

/**
 * Bare mode (`pipec schedule auto`, no .pipe file): v stages per device on P
 * ranks, V-shaped when v is even (the zig-zag keeps a stage's neighbours
 * close), loop otherwise.
 */
export function barePlacement(devices: number, stagesPerDevice: number): Placement {
  return placeRegular(stagesPerDevice % 2 === 0 ? 'v' : 'loop', devices, stagesPerDevice);
}

/**
 * The regular kinds pipec tune tries for v stages per device: loop always,
 * and v when v is even (with one stage per device every kind is the same
 * map; odd waves are left out to keep the search as it was).
 */
export function candidatePlacementKinds(stagesPerDevice: number): RegularPlacementKind[] {
  return stagesPerDevice % 2 === 0 ? ['loop', 'v'] : ['loop'];
}

/** Whether the map zig-zags (v or wave): schedules for it are the V-shaped families. */
export function isZigZag(placement: Placement): boolean {
  return placement.stagesPerDevice > 1 && mapHasKind(placement, 'wave') && !mapHasKind(placement, 'loop');
}
