// The standard library, embedded: `import "std:schedules"` and the built-in
// schedule names resolve here without touching a file system.

import { schedulesText } from './text.ts';

export const STANDARD_SCHEDULES = 'std:schedules';

/** The text of a standard library module ("std:schedules"), or undefined. */
export function standardLibrary(name: string): string | undefined {
  return name === STANDARD_SCHEDULES ? schedulesText : undefined;
}
