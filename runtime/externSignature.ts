// Reads an extern layer's implementation with ts-morph, syntax only (an
// in-memory file system, no type checker, no imports followed), so it is
// fast and needs no project set-up. Loaded lazily by readExternModule (runtime/index.ts) for the Node edge;
// the checker itself takes any ExternModuleReader.

import { Node, Project, SyntaxKind } from 'ts-morph';
import type { InterfaceDeclaration, PropertySignature, SourceFile, TypeElementTypes, TypeNode } from 'ts-morph';
import type { ExternModuleDefinition, ExternModuleReader } from '../compiler/check/extern.ts';

let sharedProject: Project | undefined;

function project(): Project {
  sharedProject ??= new Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: true } });
  return sharedProject;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  const name = slash < 0 ? path : path.slice(slash + 1);
  return name.endsWith('.ts') || name.endsWith('.js') ? name : `${name}.ts`;
}

export const readExternModuleWithTsMorph: ExternModuleReader = (text, path, layerName) => {
  const file = project().createSourceFile(`/extern/${baseName(path)}`, text, { overwrite: true });
  try {
    return findDefinition(file, layerName);
  } finally {
    project().removeSourceFile(file);
  }
};

function findDefinition(file: SourceFile, layerName: string): ExternModuleDefinition | undefined {
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

