// Quantities with units, converted to base units: bytes, bytes per second,
// seconds and FLOP/s. Decimal prefixes are powers of 1000, binary (KiB...)
// powers of 1024, as everywhere else in computing.

export type QuantityKind = 'bytes' | 'bandwidth' | 'time' | 'compute';

const BYTE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
  KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40,
};

const TIME_UNITS: Readonly<Record<string, number>> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1 };

const COMPUTE_UNITS: Readonly<Record<string, number>> = { FLOPS: 1, GFLOPS: 1e9, TFLOPS: 1e12, PFLOPS: 1e15 };

export function unitsOf(kind: QuantityKind): readonly string[] {
  switch (kind) {
    case 'bytes': return Object.keys(BYTE_UNITS);
    case 'bandwidth': return Object.keys(BYTE_UNITS).map((unit) => `${unit}/s`);
    case 'time': return Object.keys(TIME_UNITS);
    case 'compute': return Object.keys(COMPUTE_UNITS);
  }
}

/** The kind of quantity a unit measures, or undefined for an unknown unit. */
export function kindOfUnit(unit: string): QuantityKind | undefined {
  if (Object.hasOwn(BYTE_UNITS, unit)) return 'bytes';
  if (unit.endsWith('/s') && Object.hasOwn(BYTE_UNITS, unit.slice(0, -2))) return 'bandwidth';
  if (Object.hasOwn(TIME_UNITS, unit)) return 'time';
  if (Object.hasOwn(COMPUTE_UNITS, unit)) return 'compute';
  return undefined;
}

/** value × unit in base units; undefined when the unit does not measure `kind`. */
export function toBaseUnits(value: number, unit: string, kind: QuantityKind): number | undefined {
  if (kindOfUnit(unit) !== kind) return undefined;
  switch (kind) {
    case 'bytes': return value * BYTE_UNITS[unit];
    case 'bandwidth': return value * BYTE_UNITS[unit.slice(0, -2)];
    case 'time': return value * TIME_UNITS[unit];
    case 'compute': return value * COMPUTE_UNITS[unit];
  }
}

export function describeKind(kind: QuantityKind): string {
  switch (kind) {
    case 'bytes': return 'a size in bytes (e.g. 16GiB)';
    case 'bandwidth': return 'a bandwidth (e.g. 50GB/s)';
    case 'time': return 'a time (e.g. 10us)';
    case 'compute': return 'a compute speed (e.g. 100TFLOPS)';
  }
}
