// Every size and range limit of the compiler, in one place and stated in
// docs/language.md ("Limits"); the front end's own (source size, nesting)
// are in grammar/limits.ts. Each is far beyond any pipeline pipec can train,
// and each keeps a quantity finite or a phase's work bounded by the size of
// the program: past a limit the checker refuses with a located diagnostic
// instead of computing Infinity, NaN or for minutes.

/** Layers of one model, after repeat blocks are expanded. */
export const MAX_LAYERS = 100_000;

/** Devices of one cluster (links are all-to-all in the worst case). */
export const MAX_DEVICES = 4096;

/** Device pairs of one cluster's links, after `gpu[*] <-> gpu[*]` is expanded (512 devices all-to-all). */
export const MAX_LINK_PAIRS = 262_144;

/** Stages of `stages auto(N)`: the partition search is bounded by its work budget besides. */
export const MAX_AUTO_STAGES = 1024;

/** Elements of one range (a repeat block, a device array, a loop in a declaration). */
export const MAX_RANGE_ELEMENTS = 100_000;

/** An integer layer argument or a fixed dimension (units, dim, heads, a dim of a tensor): int32's range. */
export const MAX_INTEGER_ARGUMENT = 2 ** 31 - 1;

/** Elements of one tensor per example, parameters and FLOPs of one layer, bytes: exactly representable integers. */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

/** Examples in one batch. */
export const MAX_BATCH = 2 ** 24;

/** Microbatches per step. */
export const MAX_MICROBATCHES = 65_536;

/** Compute actions of one schedule (stages × microbatches × 3 with a split backward). */
export const MAX_ACTIONS = 1_000_000;

/** Device memory, in bytes (8 PiB). */
export const MAX_MEMORY_BYTES = 2 ** 53;

/** Device speed, in FLOP/s: a non-zero speed is between these. */
export const MIN_SPEED_FLOPS = 1;
export const MAX_SPEED_FLOPS = 1e21;

/** Link bandwidth, in bytes/s. */
export const MIN_BANDWIDTH_BYTES_PER_SECOND = 1;
export const MAX_BANDWIDTH_BYTES_PER_SECOND = 1e18;

/** Link latency, in seconds (an hour). */
export const MAX_LATENCY_SECONDS = 3600;

/** Nesting of `[` and `{` in a costs file (a real one nests 3 deep). */
export const MAX_JSON_DEPTH = 64;

/** A measured time (seconds), size (bytes) or bandwidth (bytes/s) in a costs file. */
export const MAX_MEASURED_QUANTITY = 1e15;

/** Nesting of brackets in an extern layer's TypeScript module, read before TypeScript parses it. */
export const MAX_EXTERN_NESTING = 256;
