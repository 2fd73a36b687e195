import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  valueFromASTUntyped,
} from "graphql";

/**
 * Query cost with variables (issue 11): graphql-armor's cost rule sees only the document, so
 * `first: $n` cost nothing (TOOLCHAIN.md). This walk runs once the operation and its variables
 * are known, on both transports (graphql/edge.ts).
 *
 * The model: every object field costs {@link OBJECT_COST} and every leaf {@link LEAF_COST},
 * times the number of times it can appear. A field with a `first`/`last` argument (literal,
 * variable, or the schema default) sets the size of the next list below it (a connection's
 * `edges`); a list without one counts as {@link options.defaultListSize} items, or its entry in
 * `options.listSizes`. Sizes multiply down the tree, so nesting pages is bounded: the contract's
 * default `findings` page (100) with every field of a finding costs about 1,900; sessions →
 * scans(20) → findings(100) costs about 380,000.
 */
export const OBJECT_COST = 2;
export const LEAF_COST = 1;

export interface CostOptions {
  /** Items assumed for a list field without `first`/`last`. @default 10 */
  defaultListSize?: number;
  /** Known bounds of unpaginated lists, by `Type.field` (e.g. `Query.sessions` → MAX_SESSIONS_PER_USER). */
  listSizes?: Readonly<Record<string, number>>;
  /** Stop walking once the cost passes this (the answer is then "more than max"). */
  stopAbove?: number;
}

const PAGE_ARGS = ["first", "last"];

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  options: CostOptions = {},
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const defaultListSize = options.defaultListSize ?? 10;
  const stopAbove = options.stopAbove ?? Number.POSITIVE_INFINITY;
  // The operation's own defaults (`$m: Int = 500`) for variables the request leaves out.
  const vars: Record<string, unknown> = { ...(variables ?? {}) };
  for (const def of operation.variableDefinitions ?? []) {
    const name = def.variable.name.value;
    if (vars[name] === undefined && def.defaultValue) vars[name] = valueFromASTUntyped(def.defaultValue);
  }
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  let total = 0;
  // Fragment spreads are expanded where they are used (their cost depends on the multiplier);
  // `visiting` stops a fragment cycle (validation refuses those, this is only a guard).
  const visiting = new Set<string>();

  const argValue = (node: ValueNode): unknown =>
    node.kind === Kind.VARIABLE ? vars[node.name.value] : valueFromASTUntyped(node, vars);

  const pageSizeOf = (field: GraphQLField<unknown, unknown>, node: FieldNode): number | null => {
    for (const name of PAGE_ARGS) {
      const def = field.args.find((a) => a.name === name);
      if (!def) continue;
      const given = node.arguments?.find((a) => a.name.value === name);
      let value: unknown = given ? argValue(given.value) : undefined;
      if (value === undefined) value = def.defaultValue;
      if (typeof value === "number" && Number.isFinite(value)) return Math.max(0, Math.floor(value));
    }
    return null;
  };

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType, multiplier: number, pending: number | null): void => {
    for (const selection of selectionSet.selections) {
      if (total > stopAbove) return;
      switch (selection.kind) {
        case Kind.FIELD: {
          const name = selection.name.value;
          if (name.startsWith("__")) break; // __typename costs nothing; introspection is gated by role
          if (!isObjectType(parent) && !isInterfaceType(parent)) break;
          const field = parent.getFields()[name];
          if (!field) break;
          const nullable = getNullableType(field.type);
          let times = multiplier;
          const page = pageSizeOf(field, selection);
          let nextPending = page ?? pending;
          if (isListType(nullable)) {
            // A paginated list is its own page (`payments(first:)`); a list under a connection
            // field takes the connection's page (`edges`).
            times *= page ?? pending ?? options.listSizes?.[`${parent.name}.${name}`] ?? defaultListSize;
            nextPending = null;
          }
          const type = getNamedType(field.type);
          total += times * (isCompositeType(type) ? OBJECT_COST : LEAF_COST);
          if (selection.selectionSet && isCompositeType(type)) walk(selection.selectionSet, type, times, nextPending);
          break;
        }
        case Kind.INLINE_FRAGMENT: {
          const type = selection.typeCondition ? (schema.getType(selection.typeCondition.name.value) ?? parent) : parent;
          walk(selection.selectionSet, type, multiplier, pending);
          break;
        }
        case Kind.FRAGMENT_SPREAD: {
          const fragment = fragments.get(selection.name.value);
          if (!fragment || visiting.has(fragment.name.value)) break;
          visiting.add(fragment.name.value);
          walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? parent, multiplier, pending);
          visiting.delete(fragment.name.value);
          break;
        }
      }
    }
  };
  walk(operation.selectionSet, root, 1, null);
  return total;
}
