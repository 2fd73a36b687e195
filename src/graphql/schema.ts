import "reflect-metadata";
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { GraphQLDateTime } from "graphql-scalars";
import { buildSchema, type NonEmptyArray, type PubSub } from "type-graphql";
import { ViewerResolver } from "../modules/viewer/viewer.resolver.js";
import { SessionResolver } from "../modules/sessions/session.resolver.js";
import { ConnectionResolver } from "../modules/connections/connection.resolver.js";
import { PaymentResolver } from "../modules/payments/payment.resolver.js";
import { CapacityResolver } from "../modules/capacity/capacity.resolver.js";
import { ScanResolver, SessionScansResolver } from "../modules/scans/scan.resolver.js";
import { ScanLimitsResolver } from "../modules/scans/scan-limits.resolver.js";
import { ScanWaitResolver } from "../modules/scans/scan-wait.resolver.js";
import { MemoryPubSub } from "../platform/pubsub/memory.pubsub.js";
import { authChecker } from "./auth-checker.js";
import type { FanoutOptions } from "./fanout.js";

/** Every resolver class of the API; the schema is printed from these (npm run schema). */
export const resolvers: NonEmptyArray<Function> = [ViewerResolver, SessionResolver, ConnectionResolver, PaymentResolver, CapacityResolver, ScanResolver, SessionScansResolver, ScanLimitsResolver, ScanWaitResolver];

export async function buildAppSchema(pubSub?: PubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
    authMode: "error",
    // Subscriptions bring their own `subscribe` (ScanEventStream, capacity); type-graphql still
    // insists on a PubSub, so printing the schema works without the app's.
    pubSub: pubSub ?? new MemoryPubSub(),
    // class-validator runs on every input class; failures become BAD_USER_INPUT (graphql/errors.ts).
    validate: { forbidUnknownValues: false, stopAtFirstError: false },
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
  });
}

/** The deterministic SDL of the schema: sorted, so `schema.graphql` diffs stay readable. */
export function printAppSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/**
 * Subscriptions whose result depends only on the event, the document and the variables: the
 * scan feeds' resolvers return the event as is and their types are plain data, so one result
 * per event per distinct operation serves every subscriber (graphql/fanout.ts).
 */
export const FANOUT: FanoutOptions = {
  shareableRoots: new Set(["myScans", "scanProgress"]),
  plainTypes: new Set(["ScanProgress", "ScanError"]),
};
