import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { type DocumentNode, GraphQLError, type ValidationContext, type ValidationRule, Kind, visit } from "graphql";
import type { Config } from "../config/config.js";
import type { AuthUser } from "../platform/auth/jwt.js";

/**
 * Query limits, applied identically over HTTP (Apollo's validationRules + parseOptions) and
 * over WebSocket (graphql-ws onSubscribe): graphql-ws validates on its own (TOOLCHAIN.md).
 * graphql-armor's rules (Escape) are used rather than hand-written visitors for depth and
 * aliases. Cost is not a validation rule: it needs the variables (graphql/cost.ts, checked by
 * graphql/edge.ts on both transports once the operation is known).
 */
export interface QueryLimits {
  readonly validationRules: ValidationRule[];
  readonly parseOptions: { maxTokens: number };
}

export function createQueryLimits(config: Pick<Config, "MAX_QUERY_DEPTH" | "MAX_QUERY_ALIASES" | "MAX_QUERY_TOKENS">): QueryLimits {
  // graphql-armor throws by default, which Apollo reports as an internal error; report the
  // rejection as a validation error instead (the client's fault, BAD_USER_INPUT).
  const reject = {
    propagateOnRejection: false,
    onReject: [
      (ctx: ValidationContext | null, error: GraphQLError) =>
        ctx?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ""), { extensions: { reason: "QUERY_LIMIT" } })),
    ],
  };
  return {
    validationRules: [
      maxDepthRule({ n: config.MAX_QUERY_DEPTH, ignoreIntrospection: true, exposeLimits: true, ...reject }),
      maxAliasesRule({ n: config.MAX_QUERY_ALIASES, exposeLimits: true, ...reject }),
    ] as unknown as ValidationRule[],
    parseOptions: { maxTokens: config.MAX_QUERY_TOKENS },
  };
}

/** True when the document asks for the schema (`__schema` or `__type`); `__typename` is harmless. */
export function usesIntrospection(document: DocumentNode): boolean {
  // A field name is always spelled out in the source: without either name there is nothing to find
  // (`__type` followed by "name" is `__typename`, or an unknown field validation already refused).
  const source = document.loc?.source.body;
  if (source !== undefined && !/__schema|__type(?!name)/.test(source)) return false;
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === "__schema" || node.name.value === "__type") {
        found = true;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** Introspection: admins always; everyone else only when enabled (development default). */
export function introspectionAllowed(user: AuthUser | null, config: Pick<Config, "introspectionForAll">): boolean {
  return config.introspectionForAll || user?.role === "ADMIN";
}

export const INTROSPECTION_DENIED =
  "Introspection is disabled for this server except for admins; use the published schema.graphql or an admin token";
