import { Authorized, Ctx, Query, Resolver } from "type-graphql";
import type { AuthedContext } from "../../graphql/context.js";
import { AppError } from "../../shared/errors.js";
import { Role, Viewer } from "./viewer.type.js";

@Resolver(() => Viewer)
export class ViewerResolver {
  @Authorized()
  @Query(() => Viewer, { description: "The caller, as the token identifies them." })
  async me(@Ctx() ctx: AuthedContext): Promise<Viewer> {
    const user = await ctx.loaders.users.load(ctx.user.id);
    if (!user) throw new AppError("UNAUTHENTICATED", "Unknown user");
    return { id: user.id, role: ctx.user.role === "ADMIN" ? Role.ADMIN : Role.USER };
  }
}
