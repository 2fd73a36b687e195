import DataLoader from "dataloader";
import type { AuthUser } from "../platform/auth/jwt.js";
import type { UserRow } from "../modules/viewer/user.repo.js";
import type { AppServices } from "./services.js";

/** Per-request DataLoaders: batch and cache lookups within one operation, never across users. */
export interface Loaders {
  readonly users: DataLoader<string, UserRow | null>;
}

export function createLoaders(services: AppServices, _viewer: AuthUser | null): Loaders {
  return {
    users: new DataLoader<string, UserRow | null>(async (ids) => {
      const rows = await services.users.findByIds(ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
