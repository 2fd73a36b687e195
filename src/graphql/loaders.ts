import DataLoader from "dataloader";
import type { AuthUser } from "../platform/auth/jwt.js";
import type { UserRow } from "../modules/viewer/user.repo.js";
import type { SessionRow } from "../modules/sessions/session.repo.js";
import type { FindingArgs } from "../modules/scans/finding-page.js";
import type { PageOf } from "../shared/pagination.js";
import type { Finding, Scan } from "../modules/scans/scan.type.js";
import type { AppServices } from "./services.js";

/** A page under a list: the parent's id and the page arguments. */
export interface PageKey<A> {
  id: string;
  args: A;
}

export type SessionScansArgs = { first?: number | null; after?: string | null };

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
  /** `Scan.findings` pages: every scan of a list that asks the same arguments, in one query (issue 11). */
  readonly findings: DataLoader<PageKey<FindingArgs>, PageOf<Finding>, string>;
  /** `Session.scans` pages: every session of a list, in one query. */
  readonly sessionScans: DataLoader<PageKey<SessionScansArgs>, PageOf<Scan>, string>;
}

/**
 * @param options.batch `false` resolves every key with its own query (DataLoader's `batch`
 *   option): only for measuring what batching saves (bench/ownership.bench.ts). @default true
 */
export function createLoaders(services: AppServices, viewer: AuthUser | null, options: { batch?: boolean } = {}): Loaders {
  const batch = options.batch ?? true;
  // Built on first use: most operations (`me`, a subscription) touch none of them, and five
  // DataLoaders per request were a measurable part of `me` (bench/me.bench.ts).
  const made: Partial<Record<keyof Loaders, unknown>> = {};
  const lazy = <K extends keyof Loaders>(key: K, build: () => Loaders[K]): Loaders[K] => (made[key] ??= build()) as Loaders[K];
  return {
    get queuePositions() {
      return lazy("queuePositions", () =>
        new DataLoader<string, number | null>(async (ids) => {
          const positions = await services.scans.queuePositions(ids);
          return ids.map((id) => positions.get(id) ?? null);
        }),
      );
    },
    get users() {
      return lazy("users", () =>
        new DataLoader<string, UserRow | null>(async (ids) => {
          const rows = await services.users.findByIds(ids);
          const byId = new Map(rows.map((r) => [r.id, r]));
          return ids.map((id) => byId.get(id) ?? null);
        }),
      );
    },
    get sessions() {
      return lazy("sessions", () =>
        new DataLoader<string, SessionRow | null>(async (ids) => {
          if (!viewer) return ids.map(() => null);
          const rows = await services.sessions.findManyOwned(viewer.id, ids);
          const byId = new Map(rows.map((r) => [r.id, r]));
          return ids.map((id) => byId.get(id) ?? null);
        }, { batch }),
      );
    },
    get findings() {
      return lazy("findings", () => pageLoader<FindingArgs, PageOf<Finding>>((ids, args) => services.scanPages.findings(viewer!.id, ids, args), viewer, batch));
    },
    get sessionScans() {
      return lazy("sessionScans", () => pageLoader<SessionScansArgs, PageOf<Scan>>((ids, args) => services.scanPages.scansOfSessions(viewer!.id, ids, args), viewer, batch));
    },
  };
}

const pageKey = (key: PageKey<unknown>) => `${key.id}\u0000${JSON.stringify(key.args)}`;

/**
 * A DataLoader for pages under a list: one batch groups its keys by arguments and calls `load`
 * once per distinct set of arguments (one set in practice: a list's children share them).
 */
function pageLoader<A, T>(load: (ids: string[], args: A) => Promise<Map<string, T>>, viewer: AuthUser | null, batch: boolean): DataLoader<PageKey<A>, T, string> {
  return new DataLoader<PageKey<A>, T, string>(
    async (keys) => {
      if (!viewer) throw new Error("page loader used without a viewer");
      const groups = new Map<string, { args: A; ids: string[] }>();
      for (const key of keys) {
        const argsKey = JSON.stringify(key.args);
        let group = groups.get(argsKey);
        if (!group) groups.set(argsKey, (group = { args: key.args, ids: [] }));
        group.ids.push(key.id);
      }
      const results = new Map<string, T | Error>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          try {
            const pages = await load(group.ids, group.args);
            for (const id of group.ids) results.set(pageKey({ id, args: group.args }), pages.get(id)!);
          } catch (err) {
            for (const id of group.ids) results.set(pageKey({ id, args: group.args }), err as Error);
          }
        }),
      );
      return keys.map((k) => results.get(pageKey(k))!);
    },
    { cacheKeyFn: pageKey, batch },
  );
}
