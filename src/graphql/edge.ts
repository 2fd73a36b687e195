import type { ApolloServerPlugin } from "@apollo/server";
import {
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import type { Config } from "../config/config.js";
import type { AuthUser } from "../platform/auth/jwt.js";
import type { Metrics } from "../platform/observability/metrics.js";
import { AppError } from "../shared/errors.js";
import type { GraphQLContext } from "./context.js";
import { operationCost } from "./cost.js";
import { stripSuggestions } from "./errors.js";
import { INTROSPECTION_DENIED, introspectionAllowed, usesIntrospection, type QueryLimits } from "./limits.js";

/**
 * The GraphQL edge written once for both transports (issue 15): the introspection gate, the
 * query cost with variables, the lazy user row, operation metrics and the parsed-document cache.
 * HTTP runs it as an Apollo plugin ({@link GraphQLEdge.apolloPlugin}); WebSocket calls the same
 * methods from graphql-ws's `onSubscribe` (http/ws.ts).
 */
export interface EdgeDeps {
  config: Pick<Config, "MAX_QUERY_COST" | "MAX_SESSIONS_PER_USER" | "introspectionForAll" | "isProduction">;
  schema: GraphQLSchema;
  limits: QueryLimits;
  metrics: Metrics;
  /** Writes the user's row when this process has not yet (users/user.repo.ts `ensure`). */
  ensureUser(user: AuthUser): Promise<void>;
}

export type Transport = "http" | "ws";

const MAX_CACHED_DOCUMENTS = 200;
const MAX_CACHED_QUERY_LENGTH = 8 * 1024;

export class GraphQLEdge {
  private readonly rules;
  /**
   * Parsed and validated documents by query text (WebSocket; Apollo keeps its own store for
   * HTTP). Thousands of subscribers send the same few queries: they share one immutable
   * document and skip parse + validate. Bounded; evicts the oldest entry.
   */
  private readonly documents = new Map<string, DocumentNode>();
  private readonly listSizes: Record<string, number>;
  /**
   * What admit() learns from a document alone, kept per DocumentNode: both transports reuse one
   * immutable node per query text (Apollo's document store, {@link document}), so a repeated
   * query is not searched for introspection or walked for its cost again. An operation without
   * variable definitions cannot read variables (validation refuses undefined ones), so its cost
   * is a property of the document; operations with variables are costed per request.
   */
  private readonly facts = new WeakMap<DocumentNode, { introspection: boolean; costs: Map<OperationDefinitionNode, number> }>();

  constructor(private readonly deps: EdgeDeps) {
    this.rules = [...specifiedRules, ...deps.limits.validationRules];
    // Unpaginated lists with a known bound: their size in the cost walk.
    this.listSizes = { "Query.sessions": deps.config.MAX_SESSIONS_PER_USER };
  }

  /** Parse + validate with the shared limits, cached by query text. Errors are the client's (BAD_USER_INPUT). */
  document(query: string): DocumentNode | AppError[] {
    const cached = this.documents.get(query);
    if (cached) return cached;
    let document: DocumentNode;
    try {
      document = parse(query, this.deps.limits.parseOptions);
    } catch (err) {
      return [new AppError("BAD_USER_INPUT", this.clean((err as Error).message), { reason: "GRAPHQL_PARSE_FAILED" })];
    }
    const errors = validate(this.deps.schema, document, this.rules);
    if (errors.length > 0) return errors.map((e) => this.requestError(e));
    if (query.length <= MAX_CACHED_QUERY_LENGTH) {
      if (this.documents.size >= MAX_CACHED_DOCUMENTS) this.documents.delete(this.documents.keys().next().value!);
      this.documents.set(query, document);
    }
    return document;
  }

  /**
   * The checks once the operation and its variables are known; throws an AppError.
   * Introspection by role, cost with variables, and, for a mutation, the caller's user row
   * (a connection or a query never writes: issue 11).
   */
  async admit(args: {
    document: DocumentNode;
    operation: OperationDefinitionNode | null | undefined;
    variables: Readonly<Record<string, unknown>> | null | undefined;
    user: AuthUser | null;
  }): Promise<void> {
    const { config } = this.deps;
    let facts = this.facts.get(args.document);
    if (!facts) this.facts.set(args.document, (facts = { introspection: usesIntrospection(args.document), costs: new Map() }));
    if (facts.introspection && !introspectionAllowed(args.user, config)) {
      throw new AppError("FORBIDDEN", INTROSPECTION_DENIED, { http: { status: 403 } });
    }
    const operation = args.operation;
    if (!operation) return;
    let cost: number;
    if (operation.variableDefinitions?.length) {
      cost = this.cost(args.document, operation, args.variables);
    } else {
      let known = facts.costs.get(operation);
      if (known === undefined) facts.costs.set(operation, (known = this.cost(args.document, operation, null)));
      cost = known;
    }
    if (cost > config.MAX_QUERY_COST) {
      throw new AppError(
        "BAD_USER_INPUT",
        `Query cost above the limit of ${config.MAX_QUERY_COST} (MAX_QUERY_COST): ask for smaller pages or fewer nested lists`,
        { reason: "QUERY_LIMIT", limit: config.MAX_QUERY_COST, http: { status: 400 } },
      );
    }
    if (operation.operation === "mutation" && args.user) await this.deps.ensureUser(args.user);
  }

  private cost(document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | null | undefined): number {
    return operationCost(this.deps.schema, document, operation, variables, { listSizes: this.listSizes, stopAbove: this.deps.config.MAX_QUERY_COST });
  }

  /** Counts and times one operation; returns the function that records its end. */
  observe(transport: Transport, type: string, operationName: string | null | undefined): (outcome: "ok" | "error" | "started" | "rejected") => void {
    const started = process.hrtime.bigint();
    const { metrics } = this.deps;
    const name = metrics.operationLabel(operationName ?? undefined);
    return (outcome) => {
      metrics.graphqlOperations.inc({ type, name, outcome, transport });
      if (outcome !== "rejected") metrics.graphqlDuration.observe({ type, name, transport }, Number(process.hrtime.bigint() - started) / 1e9);
    };
  }

  /** The request's fault, as the client sees it (no suggestions in production). */
  requestError(e: GraphQLError): AppError {
    return new AppError("BAD_USER_INPUT", this.clean(e.message), { reason: e.extensions.reason ?? "GRAPHQL_VALIDATION_FAILED" });
  }

  private clean(message: string): string {
    return this.deps.config.isProduction ? stripSuggestions(message) : message;
  }

  /** The same checks and metrics over HTTP, as an Apollo plugin. */
  apolloPlugin(): ApolloServerPlugin<GraphQLContext> {
    const edge = this;
    return {
      async requestDidStart() {
        let done: ReturnType<GraphQLEdge["observe"]> | null = null;
        let type = "unknown";
        return {
          async didResolveOperation({ document, operation, operationName, request, contextValue }) {
            type = operation?.operation ?? "unknown";
            done = edge.observe("http", type, operationName);
            await edge.admit({ document, operation: operation ?? getOperationAST(document, operationName), variables: request.variables, user: contextValue.user });
          },
          async willSendResponse({ response, errors }) {
            const body = response.body.kind === "single" ? response.body.singleResult : null;
            const failed = Boolean(errors?.length) || Boolean(body?.errors?.length);
            (done ?? edge.observe("http", type, null))(failed ? "error" : "ok");
            // Overload is an answer (issue 11): 503 with Retry-After when nothing could be served.
            const busy = body?.errors?.find((e) => e.extensions?.code === "CAPACITY_EXCEEDED" && typeof e.extensions.retryAfterSeconds === "number");
            if (busy) {
              response.http.headers.set("retry-after", String(busy.extensions!.retryAfterSeconds));
              if (body!.data == null || busy.extensions?.reason === "DATABASE_BUSY") response.http.status = 503;
            }
          },
        };
      },
    };
  }
}
