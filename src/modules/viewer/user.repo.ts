import type { PrismaClient } from "../../generated/prisma/client.js";
import type { AuthUser } from "../../platform/auth/jwt.js";

export interface UserRow {
  id: string;
  role: "USER" | "ADMIN";
  createdAt: Date;
  lastSeenAt: Date;
}

/**
 * Users exist from their first authenticated request. `ensure` writes only when this process
 * has not seen the (id, role) pair yet, so steady traffic costs no writes.
 */
export class UserRepo {
  private readonly known = new Map<string, AuthUser["role"]>();
  private readonly maxKnown = 100_000;

  constructor(private readonly prisma: PrismaClient) {}

  async ensure(user: AuthUser): Promise<void> {
    if (this.known.get(user.id) === user.role) return;
    await this.prisma.user.upsert({
      where: { id: user.id },
      create: { id: user.id, role: user.role },
      update: { role: user.role },
    });
    if (this.known.size >= this.maxKnown) this.known.clear();
    this.known.set(user.id, user.role);
  }

  async findByIds(ids: readonly string[]): Promise<UserRow[]> {
    return this.prisma.user.findMany({ where: { id: { in: [...ids] } } });
  }
}
