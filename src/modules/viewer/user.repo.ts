import type { PrismaClient } from "../../generated/prisma/client.js";
import type { AuthUser } from "../../platform/auth/jwt.js";

export interface UserRow {
  id: string;
  role: "USER" | "ADMIN";
  createdAt: Date;
  lastSeenAt: Date;
}

const ROW_TTL_MS = 5_000;

/**
 * Users exist from their first authenticated request. `ensure` writes only when this process
 * has not seen the (id, role) pair yet, so steady traffic costs no writes.
 */
export class UserRepo {
  private readonly known = new Map<string, AuthUser["role"]>();
  private readonly maxKnown = 100_000;
  /**
   * Rows read in the last ROW_TTL_MS, so `me` under load does not cost a query per request.
   * Users are never deleted, `role` is only written by `ensure` (which drops the entry) and
   * `lastSeenAt` only by the activity flush, which is itself up to 15 s behind.
   */
  private readonly rows = new Map<string, { row: UserRow; until: number }>();

  constructor(private readonly prisma: PrismaClient) {}

  async ensure(user: AuthUser): Promise<void> {
    if (this.known.get(user.id) === user.role) return;
    await this.prisma.user.upsert({
      where: { id: user.id },
      create: { id: user.id, role: user.role },
      update: { role: user.role },
    });
    this.rows.delete(user.id);
    if (this.known.size >= this.maxKnown) this.known.clear();
    this.known.set(user.id, user.role);
  }

  async findByIds(ids: readonly string[]): Promise<UserRow[]> {
    const now = Date.now();
    const found: UserRow[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.rows.get(id);
      if (hit && hit.until > now) found.push({ ...hit.row });
      else missing.push(id);
    }
    if (missing.length === 0) return found;
    const rows = await this.prisma.user.findMany({ where: { id: { in: missing } } });
    if (this.rows.size + rows.length > this.maxKnown) this.rows.clear();
    for (const row of rows) this.rows.set(row.id, { row: { ...row }, until: now + ROW_TTL_MS });
    return [...found, ...rows];
  }
}
