// The standard library, embedded: `import "std:schedules"` and the built-in
// schedule names resolve here without touching a file system.

import { schedulesText } from './text.ts';

export const STANDARD_SCHEDULES = 'std:schedules';

/** Whether a file name is a standard library module ("std:..."), where a user's mistake must never be the only location. */
export function isStandardLibrary(file: string): boolean {
  return file.startsWith('std:');
}

/** The text of a standard library module ("std:schedules"), or undefined. */
export function standardLibrary(name: string): string | undefined {
  return name === STANDARD_SCHEDULES ? schedulesText : undefined;
}
