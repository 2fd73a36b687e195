import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../../graphql/context.js";
import { Scan, ScanWaitReason, WAITING_FOR_DESCRIPTION } from "./scan.type.js";

/**
 * `Scan.waitingFor` (issue 10, point 6): judged when read, from the capacity monitor's current
 * hold (the same one workers obey), so it is never stale in storage. `ScanProgress.waitingFor`
 * is a plain property judged when the event is built (scan-events.ts), so the subscription
 * fan-out can keep projecting events without resolvers; the events are republished when the
 * hold begins or ends (ScanService.announceQueueWait).
 */
@Resolver(() => Scan)
export class ScanWaitResolver {
  @FieldResolver(() => ScanWaitReason, { nullable: true, description: WAITING_FOR_DESCRIPTION })
  waitingFor(@Root() scan: Scan, @Ctx() ctx: GraphQLContext): ScanWaitReason | null {
    return ctx.services.scans.waitingFor(scan);
  }
}
