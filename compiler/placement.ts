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
// Chimera and BitPipe) have one stage → rank map per copy in `copies`:
//  - mirror:   copy 0 is a loop (stage s on rank s mod P), copy 1 runs every
//              stage on the mirrored rank P-1-r (DualPipe, Chimera: with one
//              stage per device, copy 0 goes down 0..P-1 and copy 1 up);
//  - mirror_v: copy 0 is a V, copy 1 its mirror (BitPipe's two V-shaped
//              pipelines in opposite directions).
// P must be even so that no rank holds a stage of both copies (the two
// holders of a stage all-reduce its gradients). A schedule sees the stages
// of both copies as one list: copy c's stage s is schedule stage c·n + s, so
// `F[i, c]` still names a device's c-th lowest stage (with one stage per copy
// and device, chunk 0 is copy 0 and chunk 1 copy 1). Each copy trains half
// the microbatches (DualPipe feeds half from each end), numbered per copy
// 0..m/2-1; copy c's microbatch i is data microbatch c·m/2 + i.

import type { Suggestion } from '../grammar/diagnostic.ts';
import type { Span } from '../grammar/source.ts';
import { suggestName } from './check/suggest.ts';

export type SingleCopyPlacementKind = 'loop' | 'v' | 'wave';
export type MirroredPlacementKind = 'mirror' | 'mirror_v';
export type RegularPlacementKind = SingleCopyPlacementKind | MirroredPlacementKind;
export type PlacementKind = RegularPlacementKind | 'explicit';

/** The kinds a declaration may name, in the order documentation lists them. */
export const REGULAR_PLACEMENT_KINDS: readonly RegularPlacementKind[] = ['loop', 'v', 'wave', 'mirror', 'mirror_v'];
const SINGLE_COPY_KINDS: readonly SingleCopyPlacementKind[] = ['loop', 'v', 'wave'];

/** The single-copy kind copy 0 of a mirrored kind has (copy 1 is its mirror image). */
const MIRRORED_BASE: Readonly<Record<MirroredPlacementKind, SingleCopyPlacementKind>> = { mirror: 'loop', mirror_v: 'v' };

/** The kind of copy 0 of a mirrored kind (the placement with one copy of the same shape). */
export function singleCopyKind(kind: MirroredPlacementKind): SingleCopyPlacementKind {
  return MIRRORED_BASE[kind];
}

export function isMirroredKind(kind: PlacementKind): kind is MirroredPlacementKind {
  return kind === 'mirror' || kind === 'mirror_v';
}

/** Model copies a placement runs (2 for the mirrored kinds). */
export function copyCount(placement: Placement): number {
  return placement.copies.length;
}

/** The schedule's stage → rank map: the stages of every copy, copy 0 first (copy c's stage s is c·n + s). */
export function scheduleStageDevices(placement: Placement): number[] {
  return placement.copies.flat();
}

/** The `v` a schedule sees: stages per device over every copy (2 for DualPipe's and Chimera's mirror). */
export function scheduleStagesPerDevice(placement: Placement): number {
  return placement.stagesPerDevice * placement.copies.length;
}

/**
 * A regular kind placed for a schedule that sees `scheduleStagesPerDevice`
 * stages per device (over every copy, see scheduleStagesPerDevice).
 */
export function placeForSchedule(kind: RegularPlacementKind, devices: number, scheduleStagesPerDevice: number): Placement {
  return placeRegular(kind, devices, isMirroredKind(kind) ? scheduleStagesPerDevice / 2 : scheduleStagesPerDevice);
}

/**
 * A schedule's stage → rank map over `copies` copies (copy 0's stages
 * first) as a placement: each copy's map, and the mirrored kind when copy 0
 * is a loop or a V and copy 1 its mirror image; explicit otherwise.
 */
export function classifyCopies(stageDevice: readonly number[], devices: number, copies: number): Placement {
  if (copies <= 1) return classifyPlacement(stageDevice, devices);
  const perCopy = stageDevice.length / copies;
  const maps = Array.from({ length: copies }, (_, c) => stageDevice.slice(c * perCopy, (c + 1) * perCopy));
  const written: Placement = { ...explicitPlacement(maps[0], devices), copies: maps };
  const kind = (['mirror', 'mirror_v'] as const).find((candidate) => satisfiesPlacement({ ...written, kind: candidate }, candidate));
  return kind === undefined ? written : { ...written, kind };
}

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
   * placements have a second map, each stage on the rank P-1-r mirrored
   * from copy 0's.
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
  return kind === 'v' || kind === 'mirror_v' ? 2 * devices : devices;
}

/** Undefined when `stages` stages fit the kind on `devices` ranks. */
export function regularPlacementProblem(kind: RegularPlacementKind, devices: number, stages: number): PlacementProblem | undefined {
  const multiple = stageMultiple(kind, devices);
  if (Number.isInteger(stages) && stages >= 1 && stages % multiple === 0) return undefined;
  const nearestStages = Math.max(multiple, Math.round(stages / multiple) * multiple);
  const problem = kind === 'v' || kind === 'mirror_v'
    ? `placement ${kind} on ${devices} device(s) needs an even number of stages per device (a multiple of ${multiple}), got ${stages} stages`
    : `placement ${kind} on ${devices} device(s) needs the same number of stages per device (a multiple of ${multiple}), got ${stages} stages`;
  return { problem, nearestStages };
}

/** Undefined when the mirrored kind fits `devices` ranks: the two holders of a stage must be different ranks. */
export function mirroredPlacementProblem(kind: RegularPlacementKind, devices: number): string | undefined {
  if (!isMirroredKind(kind) || devices % 2 === 0) return undefined;
  return `placement ${kind} needs an even number of devices, so that no device holds a stage of both model copies, got ${devices}`;
}

/** The stage → rank map of a regular kind (copy 0's for a mirrored kind; the shape must fit: see regularPlacementProblem). */
export function regularStageDevices(kind: RegularPlacementKind, devices: number, stagesPerDevice: number): number[] {
  if (isMirroredKind(kind)) return regularStageDevices(MIRRORED_BASE[kind], devices, stagesPerDevice);
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
  if ((kind === 'v' || kind === 'mirror_v') && stagesPerDevice % 2 !== 0) throw new Error(`placeRegular: placement ${kind} needs an even number of stages per device, got ${stagesPerDevice}`);
  const stageDevice = regularStageDevices(kind, devices, stagesPerDevice);
  const copies = isMirroredKind(kind) ? [stageDevice, stageDevice.map((rank) => devices - 1 - rank)] : [stageDevice];
  return { kind, devices, stages: stageDevice.length, stagesPerDevice, stageDevice, copies };
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
  const mirrored = mirroredPlacementProblem(declared.kind, declared.devices);
  if (mirrored !== undefined) return { problem: mirrored, nearestStages: declared.stages };
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
  for (const kind of SINGLE_COPY_KINDS) {
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
  // A mirrored schedule needs both copies; a single-copy one runs on no mirrored placement.
  if (isMirroredKind(required)) {
    return placement.copies.length === 2 && mapHasKind(placement, MIRRORED_BASE[required])
      && placement.copies[1].every((rank, stage) => rank === placement.devices - 1 - placement.stageDevice[stage]);
  }
  if (placement.copies.length !== 1) return false;
  return mapHasKind(placement, required);
}

function mapHasKind(placement: Placement, kind: SingleCopyPlacementKind): boolean {
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
  return placement.copies.length === 1 && placement.stagesPerDevice > 1 && mapHasKind(placement, 'wave') && !mapHasKind(placement, 'loop');
}
