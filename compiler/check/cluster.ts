// A cluster: devices (arrays such as `gpu[0..4]` expand to gpu[0]..gpu[3])
// with memory capacity and speed, and links with bandwidth and latency.
// Quantities convert to base units (bytes, FLOP/s, bytes/s, seconds).

import type { ClusterDeclaration, DeviceReference, Expression, Property } from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import type { CheckedCluster, CheckedDevice, CheckedLink } from '../program.ts';
import type { Reporter } from './context.ts';
import { EMPTY_SCOPE, evaluateRange } from './evaluate.ts';
import { suggestName } from './suggest.ts';
import { describeKind, kindOfUnit, toBaseUnits, unitsOf } from './units.ts';
import type { QuantityKind } from './units.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import {
  MAX_BANDWIDTH_BYTES_PER_SECOND, MAX_DEVICES, MAX_LATENCY_SECONDS, MAX_LINK_PAIRS, MAX_MEMORY_BYTES, MAX_SPEED_FLOPS, MIN_BANDWIDTH_BYTES_PER_SECOND, MIN_SPEED_FLOPS,
} from '../limits.ts';

export interface DeviceGroup {
  readonly base: string;
  /** Global device indices of the group's members, in index order. */
  readonly devices: readonly number[];
  /** For arrays, the first index (`gpu[0..4]` → 0). Undefined for single devices. */
  readonly firstIndex?: number;
  readonly span: Span;
}

export interface ClusterCheckResult {
  readonly name: string;
  readonly devices: readonly CheckedDevice[];
  readonly groups: ReadonlyMap<string, DeviceGroup>;
  /** Devices whose declaration had a bad property: their speed and memory are unknown, not zero. */
  readonly uncertainDevices: ReadonlySet<number>;
  /** Present when the cluster checked without errors. */
  readonly cluster?: CheckedCluster;
}


const DEVICE_PROPERTIES: Readonly<Record<string, QuantityKind>> = { memory: 'bytes', speed: 'compute' };
const LINK_PROPERTIES: Readonly<Record<string, QuantityKind>> = { bandwidth: 'bandwidth', latency: 'time' };

export function checkCluster(declaration: ClusterDeclaration, reporter: Reporter): ClusterCheckResult {
  const clusterName = declaration.name.name;
  const errorsBefore = countErrors(reporter);
  const devices: CheckedDevice[] = [];
  const groups = new Map<string, DeviceGroup>();
  const uncertainDevices = new Set<number>();

  for (const member of declaration.members) {
    if (member.kind !== 'DeviceDeclaration' || member.name.name === '') continue;
    const base = member.name.name;
    const previous = groups.get(base);
    if (previous !== undefined) {
      reporter.report(diagnosticMessages.duplicateDevice, member.name.span, { name: base, cluster: clusterName }, {
        related: [{ span: previous.span, message: 'first declared here' }],
      });
      continue;
    }
    const errorsBeforeProperties = countErrors(reporter);
    const properties = readProperties(member.properties, DEVICE_PROPERTIES, 'device', reporter);
    const uncertain = countErrors(reporter) > errorsBeforeProperties;
    if (properties.memory === undefined && !member.properties.some((p) => p.key.name === 'memory')) {
      reporter.report(diagnosticMessages.missingMemory, member.name.span, { name: base }, { hint: `add a capacity, e.g. device ${base} memory 16GiB` });
    }
    let indices: number[] | undefined;
    let firstIndex: number | undefined;
    if (member.range !== undefined) {
      const range = evaluateRange(member.range, EMPTY_SCOPE, reporter, 'a device range');
      if (range === undefined) continue;
      if (!Number.isInteger(range.from) || !Number.isInteger(range.to) || range.from < 0 || range.to <= range.from) {
        reporter.report(diagnosticMessages.deviceIndex, member.range.span, {
          problem: `the device range ${range.from}..${range.to} declares no devices`,
        }, { hint: 'ranges are half-open: gpu[0..4] declares gpu[0] to gpu[3]' });
        continue;
      }
      indices = [];
      firstIndex = range.from;
      for (let i = range.from; i < range.to; i++) indices.push(i);
    }
    const members = indices === undefined ? [base] : indices.map((i) => `${base}[${i}]`);
    if (devices.length + members.length > MAX_DEVICES) {
      // Links are all-to-all in the worst case, so the device count bounds the work quadratically.
      reporter.report(diagnosticMessages.tooLarge, member.span, { what: `cluster '${clusterName}'`, count: devices.length + members.length, limit: MAX_DEVICES });
      break;
    }
    const globalIndices: number[] = [];
    for (const name of members) {
      if (uncertain) uncertainDevices.add(devices.length);
      globalIndices.push(devices.length);
      devices.push({
        index: devices.length,
        name,
        memoryBytes: properties.memory ?? 0,
        flopsPerSecond: properties.speed ?? 0,
        span: member.span,
      });
    }
    groups.set(base, { base, devices: globalIndices, firstIndex, span: member.name.span });
  }

  const linkByPair = new Map<number, CheckedLink>();
  for (const member of declaration.members) {
    if (member.kind !== 'LinkDeclaration') continue;
    const from = resolveDevices(member.from, groups, clusterName, reporter, true);
    const to = resolveDevices(member.to, groups, clusterName, reporter, true);
    const properties = readProperties(member.properties, LINK_PROPERTIES, 'link', reporter);
    if (from === undefined || to === undefined) continue;
    if (properties.bandwidth === undefined) {
      if (!member.properties.some((p) => p.key.name === 'bandwidth')) {
        reporter.report(diagnosticMessages.missingSetting, member.span, { name: clusterName, setting: 'bandwidth on this link' }, {
          hint: 'add e.g. bandwidth 50GB/s latency 10us',
        });
      }
      continue;
    }
    // `a[*] <-> a[*]` names each pair once in from × to; `a <-> b` names it twice.
    const symmetric = from.length === to.length && from.every((device, i) => device === to[i]);
    const pairs = from.length * to.length * (member.bidirectional && !symmetric ? 2 : 1);
    if (linkByPair.size + pairs > MAX_LINK_PAIRS) {
      // Every pair is a link the cost model, the IR and the runtime carry.
      reporter.report(diagnosticMessages.tooLarge, member.span, { what: `the links of cluster '${clusterName}'`, count: linkByPair.size + pairs, limit: MAX_LINK_PAIRS }, {
        hint: 'link fewer devices to each other: a pipeline only talks to its neighbours',
      });
      break;
    }
    const add = (a: number, b: number) => {
      if (a === b) return;
      // A later declaration refines an earlier one for the same pair.
      linkByPair.set(a * MAX_DEVICES + b, {
        from: a, to: b, bandwidthBytesPerSecond: properties.bandwidth!, latencySeconds: properties.latency ?? 0, span: member.span,
      });
    };
    for (const a of from) for (const b of to) {
      add(a, b);
      if (member.bidirectional) add(b, a);
    }
  }

  if (countErrors(reporter) > errorsBefore) return { name: clusterName, devices, groups, uncertainDevices };
  return {
    name: clusterName,
    devices,
    groups,
    uncertainDevices,
    cluster: { name: clusterName, devices, links: [...linkByPair.values()], span: declaration.span },
  };
}

function countErrors(reporter: Reporter): number {
  return reporter.diagnostics.filter((d) => d.severity === 'error').length;
}

function readProperties(
  properties: readonly Property[],
  known: Readonly<Record<string, QuantityKind>>,
  owner: string,
  reporter: Reporter,
): Record<string, number | undefined> {
  const values: Record<string, number | undefined> = {};
  for (const property of properties) {
    const key = property.key.name;
    if (key === '') continue;
    const kind = Object.hasOwn(known, key) ? known[key] : undefined;
    if (kind === undefined) {
      reporter.report(diagnosticMessages.unknownProperty, property.key.span, { owner, name: key }, {
        ...suggestName(key, Object.keys(known), property.key.span),
      });
      continue;
    }
    const value = readQuantity(property.value, kind, key, reporter);
    if (value !== undefined) values[key] = value;
  }
  return values;
}

/** A quantity of the given kind in base units, reporting unknown units and wrong kinds. */
export function readQuantity(expression: Expression, kind: QuantityKind, property: string, reporter: Reporter): number | undefined {
  // `16Gib` is not a quantity to the lexer (Gib is no unit), so it arrives as a name.
  const misspelt = expression.kind === 'NameExpression' ? /^(\d+(?:\.\d+)?)([A-Za-z][A-Za-z/]*)$/.exec(expression.name.name) : null;
  if (misspelt !== null) {
    reporter.report(diagnosticMessages.unknownUnit, expression.span, { unit: misspelt[2], property }, {
      ...suggestName(misspelt[2], unitsOf(kind), expression.span, { otherwise: `use one of ${unitsOf(kind).join(', ')}`, replacement: (unit) => `${misspelt[1]}${unit}` }),
    });
    return undefined;
  }
  // `-16GiB` parses as a minus applied to a quantity; say what is wrong with it, not that it is 'an expression'.
  if (expression.kind === 'UnaryExpression' && expression.operator === '-' && (expression.operand.kind === 'QuantityLiteral' || expression.operand.kind === 'NumberLiteral')) {
    reporter.report(diagnosticMessages.negativeQuantity, expression.span, { property, actual: `-${expression.operand.text}` });
    return undefined;
  }
  if (expression.kind !== 'QuantityLiteral') {
    const text = expression.kind === 'NumberLiteral' ? expression.text : expression.kind === 'NameExpression' ? expression.name.name : 'an expression';
    if (text === '') return undefined;
    reporter.report(diagnosticMessages.propertyKind, expression.span, { property, expected: describeKind(kind), actual: text }, {
      hint: expression.kind === 'NumberLiteral' ? `write the unit right after the number, e.g. ${expression.text}${unitsOf(kind)[kind === 'time' ? 1 : 3] ?? ''}` : undefined,
    });
    return undefined;
  }
  const unitKind = kindOfUnit(expression.unit);
  if (unitKind === undefined) {
    reporter.report(diagnosticMessages.unknownUnit, expression.span, { unit: expression.unit, property }, {
      ...suggestName(expression.unit, unitsOf(kind), expression.span, {
        otherwise: `use one of ${unitsOf(kind).join(', ')}`, replacement: (unit) => `${expression.text.slice(0, expression.text.length - expression.unit.length)}${unit}`,
      }),
    });
    return undefined;
  }
  const value = toBaseUnits(expression.value, expression.unit, kind);
  if (value === undefined) {
    reporter.report(diagnosticMessages.propertyKind, expression.span, { property, expected: describeKind(kind), actual: expression.text });
    return undefined;
  }
  const bound = QUANTITY_BOUNDS[kind];
  // Speed 0 means "this device does not compute" (a host memory device); a bandwidth divides, so it is never 0.
  const zeroAllowed = kind !== 'bandwidth';
  if (!Number.isFinite(value) || value > bound.max || (value < bound.min && !(value === 0 && zeroAllowed))) {
    reporter.report(diagnosticMessages.quantityRange, expression.span, { property, bound: bound.words, actual: expression.text }, { hint: bound.hint });
    return undefined;
  }
  return value;
}

/** The range of each kind of quantity, in base units (compiler/limits.ts), and how a reader sees it. */
const QUANTITY_BOUNDS: Readonly<Record<QuantityKind, { min: number; max: number; words: string; hint?: string }>> = {
  bytes: { min: 0, max: MAX_MEMORY_BYTES, words: 'at most 8192TiB (2^53 bytes)' },
  compute: { min: MIN_SPEED_FLOPS, max: MAX_SPEED_FLOPS, words: `0 (no compute) or between ${MIN_SPEED_FLOPS}FLOPS and ${MAX_SPEED_FLOPS / 1e15}PFLOPS` },
  bandwidth: {
    min: MIN_BANDWIDTH_BYTES_PER_SECOND, max: MAX_BANDWIDTH_BYTES_PER_SECOND, words: `between ${MIN_BANDWIDTH_BYTES_PER_SECOND}B/s and ${MAX_BANDWIDTH_BYTES_PER_SECOND / 1e12}TB/s`,
    hint: 'every transfer takes bytes / bandwidth, so a link needs a bandwidth above zero; leave out a link the devices do not have',
  },
  time: { min: 0, max: MAX_LATENCY_SECONDS, words: `between 0s and ${MAX_LATENCY_SECONDS}s` },
};

/**
 * The global indices a device reference names. `single` stages need exactly
 * one device; links accept ranges and `[*]`.
 */
export function resolveDevices(
  reference: DeviceReference,
  groups: ReadonlyMap<string, DeviceGroup>,
  clusterName: string,
  reporter: Reporter,
  allowMany: boolean,
): number[] | undefined {
  const base = reference.base.name;
  if (base === '') return undefined;
  const group = groups.get(base);
  if (group === undefined) {
    reporter.report(diagnosticMessages.unknownDevice, reference.span, { name: base, cluster: clusterName }, {
      ...suggestName(base, groups.keys(), reference.base.span),
    });
    return undefined;
  }
  const index = reference.index;
  const describeGroup = () => group.firstIndex === undefined
    ? `'${base}' is a single device`
    : group.devices.length === 1
      ? `'${base}' has only index ${group.firstIndex}`
      : `'${base}' has indices ${group.firstIndex}–${group.firstIndex + group.devices.length - 1}`;
  if (index === undefined) {
    if (group.firstIndex === undefined) return [...group.devices];
    if (allowMany) return [...group.devices];
    reporter.report(diagnosticMessages.deviceIndex, reference.span, {
      problem: `'${base}' is an array of ${group.devices.length} devices; name one of them`,
    }, { hint: `write ${base}[${group.firstIndex}]` });
    return undefined;
  }
  if (group.firstIndex === undefined) {
    reporter.report(diagnosticMessages.deviceIndex, reference.span, { problem: `${describeGroup()} and takes no index` }, {
      hint: `write ${base}`,
    });
    return undefined;
  }
  if (index.kind === 'WildcardIndex') {
    if (allowMany) return [...group.devices];
    reporter.report(diagnosticMessages.deviceIndex, reference.span, { problem: 'a stage runs on one device, not on all of them' }, {
      hint: `write ${base}[${group.firstIndex}]`,
    });
    return undefined;
  }
  const pick = (i: number, span: Span): number | undefined => {
    const offset = i - group.firstIndex!;
    if (!Number.isInteger(i) || offset < 0 || offset >= group.devices.length) {
      reporter.report(diagnosticMessages.deviceIndex, span, { problem: `${base}[${i}] does not exist: ${describeGroup()}` });
      return undefined;
    }
    return group.devices[offset];
  };
  if (index.kind === 'RangeExpression') {
    const range = evaluateRange(index, EMPTY_SCOPE, reporter, 'a device range');
    if (range === undefined) return undefined;
    if (!allowMany) {
      reporter.report(diagnosticMessages.deviceIndex, reference.span, { problem: 'a stage runs on one device, not a range' }, {
        hint: `write ${base}[${range.from}]`,
      });
      return undefined;
    }
    const found: number[] = [];
    for (let i = range.from; i < range.to; i++) {
      const device = pick(i, index.span);
      if (device === undefined) return undefined;
      found.push(device);
    }
    return found;
  }
  const value = index.kind === 'NumberLiteral' ? index.value : undefined;
  if (value === undefined) {
    reporter.report(diagnosticMessages.notConstant, index.span, { what: 'a device index' });
    return undefined;
  }
  const device = pick(value, index.span);
  return device === undefined ? undefined : [device];
}
