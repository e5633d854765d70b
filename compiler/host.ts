// The compiler never touches the file system itself: a host reads files, so
// the same compiler runs in Node, a browser, a notebook or a language server.

export interface CompilerHost {
  /** The file's text, or undefined when it does not exist. */
  readFile(path: string): string | undefined;
  /** Resolve an import specifier written in `fromFile` to a path readFile understands. */
  resolveImport(fromFile: string, specifier: string): string;
  /**
   * The path with symbolic links followed (absolute), for deciding whether
   * an import stays inside the project; hosts without links leave it out.
   */
  realPath?(path: string): string;
}

/**
 * A host over any reader of files (the CLI passes one over node:fs);
 * imports resolve relative to the importing file, POSIX-style.
 */
export function createReaderHost(readFile: (path: string) => string | undefined, realPath?: (path: string) => string): CompilerHost {
  return { readFile, resolveImport: (fromFile, specifier) => joinPosix(dirnamePosix(fromFile), specifier), ...(realPath ? { realPath } : {}) };
}

/** A host over an in-memory map of files (tests, browsers, editors). */
export function createMemoryHost(files: Readonly<Record<string, string>>): CompilerHost {
  return createReaderHost((path) => (Object.hasOwn(files, path) ? files[path] : undefined));
}

function dirnamePosix(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash) || '/';
}

function joinPosix(dir: string, relative: string): string {
  if (relative.startsWith('/')) return relative;
  const parts = (dir === '.' ? [] : dir.split('/')).concat(relative.split('/'));
  const out: string[] = [];
  for (const part of parts) {
    if (part === '.' || part === '') {
      if (out.length === 0 && part === '' && dir.startsWith('/')) out.push('');
      continue;
    }
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..' && out[out.length - 1] !== '') out.pop();
    else out.push(part);
  }
  return out.join('/') || '.';
}
