// Which files a compilation may read besides its entry file. A program is
// often checked on someone else's behalf (a playground, a CI bot, a
// language server), so an import or an extern layer must not reach any
// file the process can read: `import "/etc/passwd"` would have its text
// echoed in a code frame. Imports and extern modules resolve inside the
// project — by default the entry file's folder and everything under it —
// or inside a folder the caller allows (CompileRequest.allowRead, the
// CLI's --allow-read DIR); anything else is refused before it is read.
// The standard library (`std:`) is embedded and always allowed.

import type { CompilerHost } from '../host.ts';

export interface ReadAccess {
  /** Folders whose files may be read, as the host spells them (the project first). */
  readonly roots: readonly string[];
}

/** The project root is the entry file's folder unless the caller names one. */
export function readAccessFor(entryFile: string, host: CompilerHost, options: { readonly projectRoot?: string; readonly allowRead?: readonly string[] }): ReadAccess {
  const project = options.projectRoot ?? folderOf(entryFile);
  return { roots: [project, ...(options.allowRead ?? [])].map((root) => canonical(root, host)) };
}

/** Whether `file` (a path the host resolved) lies under one of the allowed folders; links are followed where the host can. */
export function mayRead(access: ReadAccess, file: string, host: CompilerHost): boolean {
  const target = canonical(file, host);
  return access.roots.some((root) => isInside(target, root));
}

/** The project folder, as diagnostics name it. */
export function projectRoot(access: ReadAccess): string {
  return access.roots[0];
}

function canonical(path: string, host: CompilerHost): string {
  return normalizePosix(host.realPath?.(path) ?? path);
}

function isInside(target: string, root: string): boolean {
  if (root === '.') return !target.startsWith('/') && target !== '..' && !target.startsWith('../');
  if (root === '/') return target.startsWith('/');
  return target === root || target.startsWith(`${root}/`);
}

function folderOf(file: string): string {
  const slash = file.lastIndexOf('/');
  return slash < 0 ? '.' : file.slice(0, slash) || '/';
}

/** `a/./b/../c/` → `a/c`; a relative path keeps its leading `..` parts; '' → '.'. */
export function normalizePosix(path: string): string {
  const absolute = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else if (part === '..' && absolute) continue;
    else parts.push(part);
  }
  return absolute ? `/${parts.join('/')}` : parts.join('/') || '.';
}
