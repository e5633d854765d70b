// What the types of the layer registry forbid, as compile errors that must
// occur (`@ts-expect-error` fails when its line compiles). Type-checked by
// `npm run typecheck` and by test/runtime/layerRegistryTypes.test.ts; never run.

import type { BuiltinOperator, LayerArgumentsOf, OperatorArguments } from '../../compiler/ir/types.ts';
import { DenseLayer } from '../../runtime/layers/dense.ts';
import { LAYER_BUILDERS, type LayerBuilder } from '../../runtime/layers/registry.ts';

type Builders = { readonly [K in BuiltinOperator]: LayerBuilder<K> };

const { Flatten: _flatten, ...withoutFlatten } = LAYER_BUILDERS;
// @ts-expect-error a kind the catalog defines without a builder
export const missingKind: Builders = withoutFlatten;

// @ts-expect-error a builder for a kind the catalog does not define
export const unknownKind: Builders = { ...LAYER_BUILDERS, Dense3D: LAYER_BUILDERS.Dense };

// @ts-expect-error an argument read under a name the catalog does not define
export const misspelt: LayerBuilder<'Dense'> = ({ unit, activation, bias }, site) => new DenseLayer(site.name, 4, unit, activation, bias);

// @ts-expect-error an argument read as another type than the catalog's (units is a number)
export const wrongType: (args: LayerArgumentsOf<'Dense'>) => string = ({ units }) => units;

// @ts-expect-error an enum value the catalog does not list
export const unlistedValue: LayerArgumentsOf<'Dense'>['activation'] = 'linear';

// @ts-expect-error every argument is present in the IR: none is optional
export const partial: OperatorArguments<'Conv2D'> = { filters: 4, kernel: 3 };
