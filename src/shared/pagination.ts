import { Field, ObjectType } from "type-graphql";
import { AppError } from "./errors.js";

/** Relay-style page info (API.md). */
@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

/** Keyset position: rows are ordered by (createdAt DESC, id DESC); the cursor is the last row's pair. */
export interface KeysetCursor {
  createdAt: Date;
  id: string;
}

const PREFIX = "v1:";

/** Opaque cursor: base64url of "v1:<epoch ms>:<id>". */
export function encodeCursor(row: KeysetCursor): string {
  return Buffer.from(`${PREFIX}${row.createdAt.getTime()}:${row.id}`, "utf8").toString("base64url");
}

/** Decodes a cursor or throws BAD_USER_INPUT; never trusts its content beyond shape. */
export function decodeCursor(cursor: string): KeysetCursor {
  const bad = () => new AppError("BAD_USER_INPUT", "Invalid cursor", { field: "after" });
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^v1:(\d{1,15}):([0-9a-f-]{36})$/.exec(text);
  if (!m) throw bad();
  return { createdAt: new Date(Number(m[1])), id: m[2]! };
}

/** Validates a page size argument: 1..max, BAD_USER_INPUT otherwise. */
export function pageSize(first: number | null | undefined, fallback: number, max: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new AppError("BAD_USER_INPUT", `first must be between 1 and ${max}`, { field: "first" });
  }
  return n;
}

/** A page as the contract's connections carry it. */
export interface PageOf<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

/** Turns `take + 1` fetched rows into a page. */
export function toPage<T extends KeysetCursor>(rows: T[], take: number): { nodes: T[]; hasNextPage: boolean; endCursor: string | null } {
  const hasNextPage = rows.length > take;
  const nodes = hasNextPage ? rows.slice(0, take) : rows;
  const last = nodes[nodes.length - 1];
  return { nodes, hasNextPage, endCursor: last ? encodeCursor(last) : null };
}

/** The connection of `take + 1` fetched keyset rows and their total. */
export function keysetPage<T extends KeysetCursor>(rows: T[], take: number, totalCount: number): PageOf<T> {
  const page = toPage(rows, take);
  return {
    edges: page.nodes.map((node) => ({ cursor: encodeCursor(node), node })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    totalCount,
  };
}
