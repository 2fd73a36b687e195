import { Authorized, Ctx, Query, Resolver } from "type-graphql";
import type { AuthedContext } from "../../graphql/context.js";
import { Role, Viewer } from "./viewer.type.js";

@Resolver(() => Viewer)
export class ViewerResolver {
  @Authorized()
  @Query(() => Viewer, { description: "The caller, as the token identifies them." })
  me(@Ctx() ctx: AuthedContext): Viewer {
    // The viewer is who the verified token says: no query (bench/me.bench.ts). The user's row is
    // written lazily (first mutation, activity flush), so its absence means nothing here.
    return { id: ctx.user.id, role: ctx.user.role === "ADMIN" ? Role.ADMIN : Role.USER };
  }
}
