// The safetensors format (an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw
// little-endian data), written and read here: the format is a page long,
// and the exported PyTorch program reads it with a few lines of numpy
// (compiler/torch/python/pipec_torch.py), so neither side needs a package.

export type SafetensorsDtype = 'F32' | 'I32';

export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

function dtypeOf(data: Float32Array | Int32Array): SafetensorsDtype {
  return data instanceof Float32Array ? 'F32' : 'I32';
}

/** The file's bytes; tensors in the given order, the header padded to 8 bytes as the format asks. */
export function encodeSafetensors(tensors: readonly NamedTensor[]): Uint8Array {
  const header: Record<string, { dtype: SafetensorsDtype; shape: readonly number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const tensor of tensors) {
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    if (elements !== tensor.data.length) throw new Error(`tensor '${tensor.name}' has ${tensor.data.length} values for shape [${tensor.shape.join(', ')}]`);
    if (Object.hasOwn(header, tensor.name)) throw new Error(`two tensors are named '${tensor.name}'`);
    header[tensor.name] = { dtype: dtypeOf(tensor.data), shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const tensor of tensors) {
    // Typed arrays are in the platform's byte order; write little-endian explicitly.
    const target = new DataView(out.buffer, at, tensor.data.byteLength);
    if (tensor.data instanceof Float32Array) tensor.data.forEach((value, i) => target.setFloat32(4 * i, value, true));
    else tensor.data.forEach((value, i) => target.setInt32(4 * i, value, true));
    at += tensor.data.byteLength;
  }
  return out;
}

/** The tensors of a safetensors file, by name. */
export function decodeSafetensors(bytes: Uint8Array): Map<string, NamedTensor> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + length;
  const out = new Map<string, NamedTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = entry.data_offsets;
    const count = (end - start) / 4;
    const source = new DataView(bytes.buffer, bytes.byteOffset + base + start, end - start);
    let data: Float32Array | Int32Array;
    if (entry.dtype === 'F32') data = Float32Array.from({ length: count }, (_, i) => source.getFloat32(4 * i, true));
    else if (entry.dtype === 'I32') data = Int32Array.from({ length: count }, (_, i) => source.getInt32(4 * i, true));
    else throw new Error(`tensor '${name}': dtype ${entry.dtype} is not read here (F32 and I32 are)`);
    out.set(name, { name, shape: entry.shape, data });
  }
  return out;
}
