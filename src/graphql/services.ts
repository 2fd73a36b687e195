import type { ActivityTracker } from "../modules/viewer/activity.service.js";
import type { UserRepo } from "../modules/viewer/user.repo.js";

/**
 * The services resolvers reach through the context. Built once in the composition root
 * (src/app.ts); resolvers stay thin and call these.
 */
export interface AppServices {
  readonly users: UserRepo;
  readonly activity: ActivityTracker;
}
