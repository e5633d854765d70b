// `npm run playground`: builds the playground and serves playground/dist/ on
// 127.0.0.1 (the test drives the same server). Static files only.

import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlayground, PLAYGROUND_DIST } from './build.ts';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Serves `root` on 127.0.0.1 (port 0: any free one); resolves with the server and its address. */
export async function serveStatic(root: string = PLAYGROUND_DIST, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(normalize(root))) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  return { server, url: `http://127.0.0.1:${actualPort}/` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPlayground();
  const { url } = await serveStatic(PLAYGROUND_DIST, Number(process.env.PORT ?? 8080));
  console.log(`playground at ${url} (Ctrl-C stops it)`);
}
