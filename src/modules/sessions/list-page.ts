import { AppError } from "../../shared/errors.js";
import { pageSize } from "../../shared/pagination.js";
import { isUuid } from "../../shared/ids.js";

/**
 * Pages of a session's lists that stay lists (`payments`, `databaseConnections`; issue 12,
 * point 8): the contract returns `[T!]!`, so the page is the list itself and `after` is the
 * `id` of the last item the client already has. Oldest first, by (createdAt, id).
 */
export interface ListPage {
  first: number;
  /** Id of the last row of the previous page; null for the first page. */
  after: string | null;
}

/** Default and largest page of `payments` and `databaseConnections`. */
export const LIST_PAGE_DEFAULT = 100;
export const LIST_PAGE_MAX = 500;

/** Validates `first` (1..500) and `after` (an id), or BAD_USER_INPUT naming the argument. */
export function listPage(first: number | null | undefined, after: string | null | undefined): ListPage {
  const size = pageSize(first, LIST_PAGE_DEFAULT, LIST_PAGE_MAX);
  if (after === null || after === undefined || after === "") return { first: size, after: null };
  if (!isUuid(after)) throw badAfter();
  return { first: size, after: after.toLowerCase() };
}

export function badAfter(): AppError {
  return new AppError("BAD_USER_INPUT", "after must be the id of the last item of the previous page, in this session", { field: "after" });
}

/** The `where` for rows after `anchor` in (createdAt, id) order. */
export function afterAnchor(anchor: { createdAt: Date; id: string }) {
  return { OR: [{ createdAt: { gt: anchor.createdAt } }, { createdAt: anchor.createdAt, id: { gt: anchor.id } }] };
}
