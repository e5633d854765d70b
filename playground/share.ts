// The shareable URL: the program (and the chosen schedule) in the fragment,
// deflated and base64url-encoded, so a link carries the whole program and no
// server ever sees it. CompressionStream is in every current browser and in
// Node, so the same code is tested outside the page.

export interface SharedState {
  readonly text: string;
  /** A built-in schedule drawn instead of the program's own, when one was chosen. */
  readonly schedule?: string;
}

async function transform(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const output = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(output).arrayBuffer());
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (character) => character.charCodeAt(0));
}

/** `code=…` (and `&schedule=…`): what goes after the `#`. */
export async function encodeFragment(state: SharedState): Promise<string> {
  const packed = await transform(new TextEncoder().encode(state.text), new CompressionStream('deflate-raw'));
  const parameters = new URLSearchParams({ code: toBase64Url(packed) });
  if (state.schedule) parameters.set('schedule', state.schedule);
  return parameters.toString();
}

/** The state a fragment carries, or undefined when it carries none (or is damaged). */
export async function decodeFragment(fragment: string): Promise<SharedState | undefined> {
  const parameters = new URLSearchParams(fragment.replace(/^#/, ''));
  const code = parameters.get('code');
  if (code === null) return undefined;
  try {
    const text = new TextDecoder().decode(await transform(fromBase64Url(code), new DecompressionStream('deflate-raw')));
    const schedule = parameters.get('schedule');
    return schedule ? { text, schedule } : { text };
  } catch {
    return undefined;
  }
}
