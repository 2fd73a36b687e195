import DataLoader from "dataloader";
import type { AuthUser } from "../platform/auth/jwt.js";
import type { UserRow } from "../modules/viewer/user.repo.js";
import type { SessionRow } from "../modules/sessions/session.repo.js";
import type { AppServices } from "./services.js";

/** Per-request DataLoaders: batch and cache lookups within one operation, never across users. */
export interface Loaders {
  readonly users: DataLoader<string, UserRow | null>;
  /**
   * Sessions by id, scoped to the viewer: another user's (or an unknown, expired) id loads
   * as null, so `Scan.session` and ownership checks cannot reach foreign rows.
   */
  readonly sessions: DataLoader<string, SessionRow | null>;
  /** 1-based queue positions of QUEUED scans, batched into one window query per request. */
  readonly queuePositions: DataLoader<string, number | null>;
}

/**
 * @param options.batch `false` resolves every key with its own query (DataLoader's `batch`
 *   option): only for measuring what batching saves (bench/ownership.bench.ts). @default true
 */
export function createLoaders(services: AppServices, viewer: AuthUser | null, options: { batch?: boolean } = {}): Loaders {
  const batch = options.batch ?? true;
  return {
    queuePositions: new DataLoader<string, number | null>(async (ids) => {
      const positions = await services.scans.queuePositions(ids);
      return ids.map((id) => positions.get(id) ?? null);
    }),
    users: new DataLoader<string, UserRow | null>(async (ids) => {
      const rows = await services.users.findByIds(ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    sessions: new DataLoader<string, SessionRow | null>(async (ids) => {
      if (!viewer) return ids.map(() => null);
      const rows = await services.sessions.findManyOwned(viewer.id, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }, { batch }),
  };
}
