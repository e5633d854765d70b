// Clusters: device arrays expand, units convert to base units, unknown units
// and properties are located, links expand over device sets in both
// directions and name only declared devices.

import { describe, expect, test } from 'vitest';
import { kindOfUnit, toBaseUnits } from '../../compiler/check/units.ts';
import { check, expectClean, expectDiagnostic, variant } from './helpers.ts';

describe('units', () => {
  test('convert to bytes, bytes/s, seconds and FLOP/s', () => {
    expect(toBaseUnits(16, 'GiB', 'bytes')).toBe(16 * 2 ** 30);
    expect(toBaseUnits(16, 'GB', 'bytes')).toBe(16e9);
    expect(toBaseUnits(50, 'GB/s', 'bandwidth')).toBe(50e9);
    expect(toBaseUnits(10, 'us', 'time')).toBeCloseTo(1e-5);
    expect(toBaseUnits(100, 'TFLOPS', 'compute')).toBe(1e14);
    expect(toBaseUnits(1, 'ms', 'bytes')).toBeUndefined();
    expect(kindOfUnit('GiB/s')).toBe('bandwidth');
    expect(kindOfUnit('Gib')).toBeUndefined();
  });
});

describe('cluster', () => {
  test('devices expand and links go both ways between distinct devices', () => {
    const result = check(variant(['device gpu[0..2] memory 16GiB speed 100TFLOPS', 'device gpu[0..2] memory 16GiB speed 100TFLOPS\n  device host memory 64GiB']));
    expectClean(result);
    const { cluster } = result.program!;
    expect(cluster.devices.map((d) => [d.index, d.name, d.memoryBytes, d.flopsPerSecond])).toEqual([
      [0, 'gpu[0]', 16 * 2 ** 30, 1e14],
      [1, 'gpu[1]', 16 * 2 ** 30, 1e14],
      [2, 'host', 64 * 2 ** 30, 0],
    ]);
    expect(cluster.links.map((l) => [l.from, l.to, l.bandwidthBytesPerSecond])).toEqual([[0, 1, 50e9], [1, 0, 50e9]]);
    expect(cluster.links[0].latencySeconds).toBeCloseTo(1e-5);
  });

  test('a one-way link to the host', () => {
    const result = check(variant(['  link gpu[*]', '  device host memory 64GiB\n  link gpu[0] -> host bandwidth 16GB/s\n  link gpu[*]']));
    expectClean(result);
    expect(result.program!.cluster.links.filter((l) => l.to === 2).map((l) => l.from)).toEqual([0]);
    expect(result.program!.cluster.links.filter((l) => l.from === 2)).toEqual([]);
  });

  test('unknown units, wrong kinds and unknown properties', () => {
    expect(expectDiagnostic(check(variant(['memory 16GiB', 'memory 16GBs'])), 'PIPE2026', '16GBs', "unknown unit 'GBs' for memory").hint).toBe("did you mean 'GB'?");
    expectDiagnostic(check(variant(['memory 16GiB', 'memory 16us'])), 'PIPE2028', '16us', "memory must be a size in bytes (e.g. 16GiB), got '16us'");
    expectDiagnostic(check(variant(['memory 16GiB', 'memory 16'])), 'PIPE2028', '16', "memory must be a size in bytes (e.g. 16GiB), got '16'");
    expectDiagnostic(check(variant(['bandwidth 50GB/s', 'bandwidth 50GiB'])), 'PIPE2028', '50GiB', 'bandwidth must be a bandwidth (e.g. 50GB/s)');
    expect(expectDiagnostic(check(variant(['latency 10us', 'latncy 10us'])), 'PIPE2027', 'latncy', "unknown link property 'latncy'").hint).toBe("did you mean 'latency'?");
  });

  test('links and stages name declared devices with valid indices', () => {
    expectDiagnostic(check(variant(['<-> gpu[*]', '<-> gpus[*]'])), 'PIPE2030', 'gpus[*]', "unknown device 'gpus' in cluster 'local'");
    expectDiagnostic(check(variant(['gpu[*] <->', 'gpu[0..5] <->'])), 'PIPE3018', '0..5', "gpu[2] does not exist: 'gpu' has indices 0–1");
    expectDiagnostic(check(variant(['s1 on gpu[1]', 's1 on gpu'])), 'PIPE3018', 'gpu', "'gpu' is an array of 2 devices; name one of them");
    expectDiagnostic(check(variant(['s1 on gpu[1]', 's1 on gpu[0..2]'])), 'PIPE3018', 'gpu[0..2]', 'a stage runs on one device, not a range');
  });

  test('duplicate devices and devices without memory', () => {
    expectDiagnostic(check(variant(['  link', '  device gpu memory 1GiB\n  link'])), 'PIPE2029', 'gpu', "device 'gpu' is declared more than once in cluster 'local'");
    expectDiagnostic(check(variant([' memory 16GiB', ''])), 'PIPE2041', 'gpu', "device 'gpu' has no memory capacity");
  });
});
