import type { AuthCheckerFn } from "type-graphql";
import { AppError } from "../shared/errors.js";
import type { GraphQLContext } from "./context.js";

/**
 * `@Authorized()` needs a user; `@Authorized("ADMIN")` needs an admin. Throws contract errors
 * itself so the client sees UNAUTHENTICATED or FORBIDDEN, not type-graphql's own classes.
 */
export const authChecker: AuthCheckerFn<GraphQLContext, string> = ({ context }, roles) => {
  if (!context.user) throw new AppError("UNAUTHENTICATED", "Authentication required");
  if (roles.length === 0 || roles.includes(context.user.role)) return true;
  throw new AppError("FORBIDDEN", `Requires role ${roles.join(" or ")}`);
};
