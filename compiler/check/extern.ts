// Extern layers: `extern layer SwiGLU(hidden: int) : [batch, d] -> [batch, d] from "./swiglu.ts"`.
// The implementation module (runtime/extern.ts defines its shape) is
//   export default defineLayer<SwiGLUArgs>({ name: 'SwiGLU', parameters(args, inputShape) {...}, forward(...) {...} })
// We read it through the host. Reading its TypeScript is pluggable so the
// core stays free of Node APIs: the Node edge passes the ts-morph reader
// (externTypeScript.ts), which finds the export and the argument type's
// properties, compared here with the declared parameters in name and type;
// without a reader (a browser, an editor) we only check that the module
// exports something under the layer's name or by default.

import type { ExternLayerDeclaration, TypedParameter } from '../../grammar/ast.ts';
import type { CompilerHost } from '../host.ts';
import type { Reporter } from './context.ts';
import { checkExternCostClause, type ExternCostClause } from './externCost.ts';
import { mayRead, projectRoot, type ReadAccess } from './readAccess.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_EXTERN_NESTING } from '../limits.ts';

export type ExternParameterType = 'int' | 'float' | 'bool' | 'string';

const PARAMETER_TYPES: readonly ExternParameterType[] = ['int', 'float', 'bool', 'string'];

export interface CheckedExternLayer {
  readonly declaration: ExternLayerDeclaration;
  /** The module path as the host resolved it. */
  readonly implementation: string;
  /** The cost clause's expressions by key, when the declaration has one. */
  readonly cost?: ExternCostClause;
}

/** What reading the implementation found. */
export interface ExternModuleDefinition {
  /** The `name:` string of the defineLayer object, when written as a literal. */
  readonly nameProperty?: string;
  /** The argument type's members (name → TS type text), when they can be read. */
  readonly argumentMembers?: ReadonlyMap<string, string>;
}

/** Reads a module's text: its definition of the layer, or undefined when it exports none. */
export type ExternModuleReader = (text: string, path: string, layerName: string) => ExternModuleDefinition | undefined;

/** The reader without a TypeScript parser: an export under the layer's name or a default export. */
export const readExternModuleByText: ExternModuleReader = (text, _path, layerName) => {
  const exportsDefault = /\bexport\s+default\b/.test(text);
  const exportsName = new RegExp(`\\bexport\\s+(?:const|let|var|function|class)\\s+${layerName}\\b`).test(text);
  return exportsDefault || exportsName ? {} : undefined;
};

export function checkExternLayer(
  declaration: ExternLayerDeclaration,
  fromFile: string,
  host: CompilerHost,
  reporter: Reporter,
  access: ReadAccess,
  readModule: ExternModuleReader = readExternModuleByText,
): CheckedExternLayer | undefined {
  const name = declaration.name.name;
  let ok = true;
  for (const parameter of declaration.params) {
    if (parameter.type.name !== '' && !PARAMETER_TYPES.includes(parameter.type.name as ExternParameterType)) {
      ok = false;
      reporter.report(diagnosticMessages.externParameterMismatch, parameter.type.span, {
        name,
        problem: `parameter '${parameter.name.name}' has the unknown type '${parameter.type.name}'`,
      }, { hint: `parameter types are ${PARAMETER_TYPES.join(', ')}` });
    }
  }
  const cost = checkExternCostClause(declaration, reporter);
  const specifier = declaration.path.value;
  const implementation = host.resolveImport(fromFile, specifier);
  if (!/\.(ts|mts|js|mjs)$/.test(implementation)) {
    reporter.report(diagnosticMessages.externNotModule, declaration.path.span, { name, path: specifier });
    return undefined;
  }
  if (!mayRead(access, implementation, host)) {
    reporter.report(diagnosticMessages.readOutsideProject, declaration.path.span, { what: `the implementation of extern layer '${name}'`, path: specifier, root: projectRoot(access) });
    return undefined;
  }
  const text = host.readFile(implementation);
  if (text === undefined) {
    reporter.report(diagnosticMessages.externNotFound, declaration.path.span, {
      problem: `cannot find the implementation of extern layer '${name}' at '${specifier}'`,
    }, { hint: `looked for ${implementation}; the path is relative to ${fromFile}` });
    return undefined;
  }
  const depth = bracketDepth(text);
  if (depth > MAX_EXTERN_NESTING) {
    // TypeScript's parser (and ts-morph's walk of the tree) recurse once per level.
    reporter.report(diagnosticMessages.externTooDeep, declaration.path.span, { file: specifier, depth, limit: MAX_EXTERN_NESTING });
    return undefined;
  }
  let definition: ExternModuleDefinition | undefined;
  try {
    definition = readModule(text, implementation, name);
  } catch (error) {
    // A reader is a third-party parser; whatever it cannot read is the module's problem, located at its path.
    reporter.report(diagnosticMessages.externNotFound, declaration.path.span, {
      problem: `'${specifier}' cannot be read as TypeScript: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    });
    return undefined;
  }
  if (definition === undefined) {
    reporter.report(diagnosticMessages.externNotFound, declaration.path.span, {
      problem: `'${specifier}' has no default export and no export named '${name}'`,
    }, { hint: `end the module with: export default defineLayer<${name}Args>({ name: '${name}', parameters, forward })` });
    return undefined;
  }
  const declaredName = definition.nameProperty;
  if (declaredName !== undefined && declaredName !== name) {
    ok = false;
    reporter.report(diagnosticMessages.externParameterMismatch, declaration.name.span, {
      name,
      problem: `the implementation in '${specifier}' is named '${declaredName}'`,
    }, { hint: `rename one of them so both say '${name}'` });
  }
  if (definition.argumentMembers !== undefined) {
    ok = compareParameters(declaration, definition.argumentMembers, specifier, reporter) && ok;
  }
  return ok ? { declaration, implementation, ...(cost ? { cost } : {}) } : undefined;
}

/** The deepest nesting of brackets in a module's text (strings and comments included: an upper bound). */
function bracketDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 40 || code === 91 || code === 123) deepest = Math.max(deepest, ++depth);
    else if (code === 41 || code === 93 || code === 125) depth = Math.max(0, depth - 1);
  }
  return deepest;
}

function tsTypeFor(type: ExternParameterType): string {
  return type === 'bool' ? 'boolean' : type === 'string' ? 'string' : 'number';
}

function agrees(parameter: TypedParameter, tsType: string): boolean {
  const expected = tsTypeFor(parameter.type.name as ExternParameterType);
  if (tsType === expected) return true;
  // A union of string literals ('a' | 'b') is a string parameter.
  return expected === 'string' && /^(\s*(['"]).*?\2\s*\|?)+$/.test(tsType);
}

function compareParameters(
  declaration: ExternLayerDeclaration,
  members: ReadonlyMap<string, string>,
  specifier: string,
  reporter: Reporter,
): boolean {
  const name = declaration.name.name;
  let ok = true;
  for (const parameter of declaration.params) {
    const tsType = members.get(parameter.name.name);
    if (tsType === undefined) {
      ok = false;
      reporter.report(diagnosticMessages.externParameterMismatch, parameter.name.span, {
        name,
        problem: `parameter '${parameter.name.name}' is not in the arguments of the implementation in '${specifier}'`,
      }, { hint: members.size === 0 ? 'the implementation takes no arguments' : `it takes: ${[...members.keys()].join(', ')}` });
    } else if (PARAMETER_TYPES.includes(parameter.type.name as ExternParameterType) && !agrees(parameter, tsType)) {
      ok = false;
      reporter.report(diagnosticMessages.externParameterMismatch, parameter.type.span, {
        name,
        problem: `parameter '${parameter.name.name}' is declared ${parameter.type.name}, but the implementation types it as ${tsType}`,
      }, { hint: `${parameter.type.name} corresponds to the TypeScript type ${tsTypeFor(parameter.type.name as ExternParameterType)}` });
    }
  }
  const declared = new Set(declaration.params.map((parameter) => parameter.name.name));
  for (const member of members.keys()) {
    if (!declared.has(member)) {
      ok = false;
      reporter.report(diagnosticMessages.externParameterMismatch, declaration.name.span, {
        name,
        problem: `the implementation in '${specifier}' takes '${member}', which the declaration does not list`,
      }, { hint: `add ${member}: ${members.get(member) === 'boolean' ? 'bool' : members.get(member) === 'string' ? 'string' : 'int'} to the parameters` });
    }
  }
  return ok;
}
