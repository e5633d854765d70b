// A layer module written for users imports `pipec/runtime` (samples/layers/
// swiglu.ts does), which resolves to the installed package's dist/. In this
// repository the package refers to itself (package.json "name" and
// "exports"), and its `pipec-sources` condition names the TypeScript sources,
// which are what runs here: this hook asks for that condition, in every
// thread that loads layer modules. The published build never calls it.

// The namespace, not a named import: on Node 20, which lacks registerHooks, a
// named import would fail while linking, before grammar/supportedRuntime.ts can explain.
import * as nodeModule from 'node:module';

const OWN_PACKAGE = /^pipec(\/|$)/;
let registered = false;

/** From the sources only: resolve `pipec`, `pipec/compiler`, `pipec/runtime` to the sources of this repository. */
export function resolveOwnPackageToSources(): void {
  if (registered || !import.meta.url.endsWith('.ts')) return;
  registered = true;
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      if (!OWN_PACKAGE.test(specifier)) return nextResolve(specifier, context);
      return nextResolve(specifier, { ...context, conditions: ['pipec-sources', ...context.conditions] });
    },
  });
}
