// The process's exit code, raised by commands as they finish (0 clean, 1
// errors found, 2 usage). Its own module so that cli/main.ts and the
// commands never import each other.

let exitCode = 0;

/** Commands report failure through this rather than process.exit, so tests can call main(). */
export function setExitCode(code: number): void {
  exitCode = Math.max(exitCode, code);
}

/** The code so far, and a fresh start for the next run of main(). */
export function takeExitCode(): number {
  const code = exitCode;
  exitCode = 0;
  return code;
}
