// Made by playground/build.ts from samples/: every file by its path under
// samples/ (the .pipe programs and the TypeScript layers they import).
declare module 'virtual:pipec-samples' {
  const files: Readonly<Record<string, string>>;
  export default files;
}
