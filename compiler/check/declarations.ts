// Top-level declarations of every loaded file, by kind and name. A name may
// be declared once per kind (a model and a pipeline may share a name);
// a second declaration is reported with the first as a related location.

import type {
  ClusterDeclaration, Declaration, ExternLayerDeclaration, ModelDeclaration, PipelineDeclaration, ScheduleDeclaration,
} from '../../grammar/ast.ts';
import type { Reporter } from './context.ts';
import type { LoadedDocument } from './imports.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface DeclarationTable {
  readonly models: ReadonlyMap<string, ModelDeclaration>;
  readonly clusters: ReadonlyMap<string, ClusterDeclaration>;
  readonly pipelines: ReadonlyMap<string, PipelineDeclaration>;
  readonly schedules: ReadonlyMap<string, ScheduleDeclaration>;
  /** Extern layers with the file that declared them (paths resolve relative to it). */
  readonly externs: ReadonlyMap<string, { readonly declaration: ExternLayerDeclaration; readonly file: string }>;
  /** Declarations of the user's files (not the standard library), in load order. */
  readonly userDeclarations: readonly { readonly declaration: Declaration; readonly file: string }[];
}

const KIND_NAMES: Readonly<Record<Declaration['kind'], string>> = {
  ModelDeclaration: 'model',
  ClusterDeclaration: 'cluster',
  PipelineDeclaration: 'pipeline',
  ScheduleDeclaration: 'schedule',
  ExternLayerDeclaration: 'extern layer',
};

export function collectDeclarations(documents: readonly LoadedDocument[], reporter: Reporter): DeclarationTable {
  const byKind = new Map<Declaration['kind'], Map<string, Declaration>>();
  const externFiles = new Map<string, string>();
  const userDeclarations: { declaration: Declaration; file: string }[] = [];
  // The user's files first so that, when a user schedule collides with a
  // standard one, the error lands in the user's file.
  const ordered = [...documents.filter((d) => !d.isStandardLibrary), ...documents.filter((d) => d.isStandardLibrary)];
  for (const { document, file, isStandardLibrary } of ordered) {
    for (const declaration of document.declarations) {
      const name = declaration.name.name;
      if (!isStandardLibrary) userDeclarations.push({ declaration, file });
      if (name === '') continue;
      let table = byKind.get(declaration.kind);
      if (table === undefined) byKind.set(declaration.kind, (table = new Map()));
      const previous = table.get(name);
      if (previous !== undefined) {
        const [report, first] = isStandardLibrary ? [previous, declaration] : [declaration, previous];
        reporter.report(diagnosticMessages.duplicateDeclaration, report.name.span, { kind: KIND_NAMES[declaration.kind], name }, {
          related: [{ span: first.name.span, message: isStandardLibrary ? 'the standard library declares it here' : 'first declared here' }],
          hint: isStandardLibrary ? `'${name}' is a standard-library schedule; give yours another name` : undefined,
        });
        continue;
      }
      table.set(name, declaration);
      if (declaration.kind === 'ExternLayerDeclaration') externFiles.set(name, file);
    }
  }
  const get = <T extends Declaration>(kind: T['kind']) => (byKind.get(kind) ?? new Map()) as Map<string, T>;
  const externs = new Map<string, { declaration: ExternLayerDeclaration; file: string }>();
  for (const [name, declaration] of get<ExternLayerDeclaration>('ExternLayerDeclaration')) {
    externs.set(name, { declaration, file: externFiles.get(name)! });
  }
  return {
    models: get<ModelDeclaration>('ModelDeclaration'),
    clusters: get<ClusterDeclaration>('ClusterDeclaration'),
    pipelines: get<PipelineDeclaration>('PipelineDeclaration'),
    schedules: get<ScheduleDeclaration>('ScheduleDeclaration'),
    externs,
    userDeclarations,
  };
}
