import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../../graphql/context.js";
import { Scan, ScanProgress, ScanWaitReason } from "./scan.type.js";

const DESCRIPTION =
  "While QUEUED, what the scan waits for: CAPACITY while a live instance is CRITICAL (it starts when capacity returns), SLOT for a free scan slot; null otherwise";

/**
 * `Scan.waitingFor` and `ScanProgress.waitingFor` (issue 10, point 6): judged when read, from the
 * capacity monitor's current hold (the same one workers obey), so it is never stale in storage.
 */
@Resolver(() => Scan)
export class ScanWaitResolver {
  @FieldResolver(() => ScanWaitReason, { nullable: true, description: DESCRIPTION })
  waitingFor(@Root() scan: Scan, @Ctx() ctx: GraphQLContext): ScanWaitReason | null {
    return ctx.services.scans.waitingFor(scan);
  }
}

@Resolver(() => ScanProgress)
export class ScanProgressWaitResolver {
  @FieldResolver(() => ScanWaitReason, { nullable: true, description: DESCRIPTION })
  waitingFor(@Root() event: ScanProgress, @Ctx() ctx: GraphQLContext): ScanWaitReason | null {
    return ctx.services.scans.waitingFor(event);
  }
}
