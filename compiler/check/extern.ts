// Extern layers: `extern layer SwiGLU(hidden: int) : [batch, d] -> [batch, d] from "./swiglu.ts"`.
// The implementation module (runtime/extern.ts defines its shape) is
//   export default defineLayer<SwiGLUArgs>({ name: 'SwiGLU', parameters(args, inputShape) {...}, forward(...) {...} })
// We read it through the host and look at its syntax only (ts-morph on an
// in-memory file system, no type checker, no imports followed), so checking
// stays fast and host-free: the default export (or a named export of the
// declared name) must exist, and the argument type's properties must agree
// with the declared parameters in name and type.

import { Node, Project, SyntaxKind } from 'ts-morph';
import type { InterfaceDeclaration, PropertySignature, SourceFile, TypeElementTypes, TypeNode } from 'ts-morph';
import type { ExternLayerDeclaration, TypedParameter } from '../../grammar/ast.ts';
import type { CompilerHost } from '../host.ts';
import { NameMessages } from '../messages/names.ts';
import type { Reporter } from './context.ts';

export type ExternParameterType = 'int' | 'float' | 'bool' | 'string';

const PARAMETER_TYPES: readonly ExternParameterType[] = ['int', 'float', 'bool', 'string'];

export interface CheckedExternLayer {
  readonly declaration: ExternLayerDeclaration;
  /** The module path as the host resolved it. */
  readonly implementation: string;
}

let sharedProject: Project | undefined;

function project(): Project {
  sharedProject ??= new Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: true } });
  return sharedProject;
}

export function checkExternLayer(
  declaration: ExternLayerDeclaration,
  fromFile: string,
  host: CompilerHost,
  reporter: Reporter,
): CheckedExternLayer | undefined {
  const name = declaration.name.name;
  let ok = true;
  for (const parameter of declaration.params) {
    if (parameter.type.name !== '' && !PARAMETER_TYPES.includes(parameter.type.name as ExternParameterType)) {
      ok = false;
      reporter.report(NameMessages.externParameterMismatch, parameter.type.span, {
        name,
        problem: `parameter '${parameter.name.name}' has the unknown type '${parameter.type.name}'`,
      }, { hint: `parameter types are ${PARAMETER_TYPES.join(', ')}` });
    }
  }
  const specifier = declaration.path.value;
  const implementation = host.resolveImport(fromFile, specifier);
  const text = host.readFile(implementation);
  if (text === undefined) {
    reporter.report(NameMessages.externNotFound, declaration.path.span, {
      problem: `cannot find the implementation of extern layer '${name}' at '${specifier}'`,
    }, { hint: `looked for ${implementation}; the path is relative to ${fromFile}` });
    return undefined;
  }
  const file = project().createSourceFile(`/extern${project().getSourceFiles().length}/${baseName(implementation)}`, text, { overwrite: true });
  try {
    const definition = findDefinition(file, name);
    if (definition === undefined) {
      reporter.report(NameMessages.externNotFound, declaration.path.span, {
        problem: `'${specifier}' has no default export and no export named '${name}'`,
      }, { hint: `end the module with: export default defineLayer<${name}Args>({ name: '${name}', parameters, forward })` });
      return undefined;
    }
    const declaredName = definition.nameProperty;
    if (declaredName !== undefined && declaredName !== name) {
      ok = false;
      reporter.report(NameMessages.externParameterMismatch, declaration.name.span, {
        name,
        problem: `the implementation in '${specifier}' is named '${declaredName}'`,
      }, { hint: `rename one of them so both say '${name}'` });
    }
    if (definition.argumentMembers !== undefined) {
      ok = compareParameters(declaration, definition.argumentMembers, specifier, reporter) && ok;
    }
  } finally {
    project().removeSourceFile(file);
  }
  return ok ? { declaration, implementation } : undefined;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  const name = slash < 0 ? path : path.slice(slash + 1);
  return name.endsWith('.ts') || name.endsWith('.js') ? name : `${name}.ts`;
}

interface FoundDefinition {
  /** The `name:` string of the defineLayer object, when written as a literal. */
  readonly nameProperty?: string;
  /** The argument type's members (name → TS type text), when it can be read syntactically. */
  readonly argumentMembers?: ReadonlyMap<string, string>;
}

function findDefinition(file: SourceFile, layerName: string): FoundDefinition | undefined {
  let expression: Node | undefined;
  const defaultExport = file.getExportAssignment((assignment) => !assignment.isExportEquals());
  if (defaultExport !== undefined) expression = defaultExport.getExpression();
  else {
    const exported = file.getExportedDeclarations().get(layerName)?.[0] ?? file.getExportedDeclarations().get('default')?.[0];
    if (exported === undefined) return undefined;
    expression = Node.isVariableDeclaration(exported) ? exported.getInitializer() : exported;
  }
  if (expression !== undefined && Node.isIdentifier(expression)) {
    // `const layer = defineLayer(...); export default layer;`
    const variable = file.getVariableDeclaration(expression.getText());
    expression = variable?.getInitializer() ?? expression;
  }
  if (expression === undefined || !Node.isCallExpression(expression)) return {};
  const [objectArgument] = expression.getArguments();
  let nameProperty: string | undefined;
  let argumentType: TypeNode | undefined = expression.getTypeArguments()[0];
  if (objectArgument !== undefined && Node.isObjectLiteralExpression(objectArgument)) {
    const nameInitializer = objectArgument.getProperty('name');
    if (nameInitializer !== undefined && Node.isPropertyAssignment(nameInitializer)) {
      const value = nameInitializer.getInitializer();
      if (value !== undefined && Node.isStringLiteral(value)) nameProperty = value.getLiteralValue();
    }
    if (argumentType === undefined) {
      // No type argument: fall back to the annotation of `parameters(args: T, ...)`.
      const parameters = objectArgument.getProperty('parameters');
      if (parameters !== undefined && Node.isMethodDeclaration(parameters)) {
        argumentType = parameters.getParameters()[0]?.getTypeNode();
      }
    }
  }
  return { nameProperty, argumentMembers: argumentType === undefined ? undefined : readMembers(file, argumentType) };
}

function readMembers(file: SourceFile, typeNode: TypeNode): ReadonlyMap<string, string> | undefined {
  let members: readonly TypeElementTypes[] | undefined;
  if (Node.isTypeLiteral(typeNode)) members = typeNode.getMembers();
  else if (Node.isTypeReference(typeNode)) {
    const name = typeNode.getTypeName().getText();
    const found: InterfaceDeclaration | undefined = file.getInterface(name);
    if (found !== undefined) members = found.getMembers();
    else {
      const alias = file.getTypeAlias(name)?.getTypeNode();
      if (alias !== undefined && Node.isTypeLiteral(alias)) members = alias.getMembers();
    }
  }
  if (members === undefined) return undefined; // defined elsewhere: nothing we can check syntactically
  const result = new Map<string, string>();
  for (const member of members) {
    if (member.getKind() !== SyntaxKind.PropertySignature) continue;
    const property = member as PropertySignature;
    result.set(property.getName(), property.getTypeNode()?.getText() ?? 'unknown');
  }
  return result;
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
      reporter.report(NameMessages.externParameterMismatch, parameter.name.span, {
        name,
        problem: `parameter '${parameter.name.name}' is not in the arguments of the implementation in '${specifier}'`,
      }, { hint: members.size === 0 ? 'the implementation takes no arguments' : `it takes: ${[...members.keys()].join(', ')}` });
    } else if (PARAMETER_TYPES.includes(parameter.type.name as ExternParameterType) && !agrees(parameter, tsType)) {
      ok = false;
      reporter.report(NameMessages.externParameterMismatch, parameter.type.span, {
        name,
        problem: `parameter '${parameter.name.name}' is declared ${parameter.type.name}, but the implementation types it as ${tsType}`,
      }, { hint: `${parameter.type.name} corresponds to the TypeScript type ${tsTypeFor(parameter.type.name as ExternParameterType)}` });
    }
  }
  const declared = new Set(declaration.params.map((parameter) => parameter.name.name));
  for (const member of members.keys()) {
    if (!declared.has(member)) {
      ok = false;
      reporter.report(NameMessages.externParameterMismatch, declaration.name.span, {
        name,
        problem: `the implementation in '${specifier}' takes '${member}', which the declaration does not list`,
      }, { hint: `add ${member}: ${members.get(member) === 'boolean' ? 'bool' : members.get(member) === 'string' ? 'string' : 'int'} to the parameters` });
    }
  }
  return ok;
}
