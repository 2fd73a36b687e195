import { Arg, Authorized, Ctx, FieldResolver, Int, Query, Resolver, Root, Subscription } from "type-graphql";
import type { AuthedContext, GraphQLContext } from "../../graphql/context.js";
import { AppError } from "../../shared/errors.js";
import type { CapacityReportData } from "./capacity.report.js";
import { CapacityReport, CapacitySamplePoint } from "./capacity.type.js";

/** history(minutes): one minute up to seven days. */
export const HISTORY_MINUTES = { min: 1, max: 10_080 } as const;

function toGraphQL(r: CapacityReportData): CapacityReport {
  return {
    ...r,
    instances: r.instances.map((i) => ({ ...i, database: i.pool, connectedClients: i.clients })),
  } as unknown as CapacityReport;
}

@Resolver(() => CapacityReport)
export class CapacityResolver {
  @Authorized("ADMIN")
  @Query(() => CapacityReport, { description: "Capacity over every live instance (ADMIN only)." })
  async capacity(@Ctx() ctx: AuthedContext): Promise<CapacityReport> {
    return toGraphQL(await ctx.services.capacity.report());
  }

  @Authorized("ADMIN")
  @FieldResolver(() => [CapacitySamplePoint], { description: "Aggregated points over the last `minutes` (1..10080), at most ~120." })
  async history(
    @Ctx() ctx: AuthedContext,
    @Arg("minutes", () => Int, { defaultValue: 60, nullable: true }) minutesArg: number | null,
  ): Promise<CapacitySamplePoint[]> {
    const minutes = minutesArg ?? 60;
    if (!Number.isInteger(minutes) || minutes < HISTORY_MINUTES.min || minutes > HISTORY_MINUTES.max) {
      throw new AppError("BAD_USER_INPUT", `minutes must be between ${HISTORY_MINUTES.min} and ${HISTORY_MINUTES.max}`, { field: "minutes" });
    }
    return ctx.services.capacity.history(minutes);
  }

  /**
   * The current report at once, then a fresh one after every sample of any instance that
   * reaches this one (all of them with Redis; this one's own without). Each event re-reads
   * PostgreSQL (shared between subscribers, see CapacityMonitor.report).
   */
  @Authorized("ADMIN")
  @Subscription(() => CapacityReport, {
    description: "Capacity reports as instances sample (ADMIN only).",
    subscribe: ({ context }) => (context as GraphQLContext).services.capacity.updates(),
  })
  async capacityUpdates(@Root() _event: unknown, @Ctx() ctx: AuthedContext): Promise<CapacityReport> {
    return toGraphQL(await ctx.services.capacity.report());
  }
}
