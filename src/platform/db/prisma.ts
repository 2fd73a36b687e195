import { PrismaPg } from "@prisma/adapter-pg";
import type pg from "pg";
import { PrismaClient } from "../../generated/prisma/client.js";

export { PrismaClient };
export type { Prisma } from "../../generated/prisma/client.js";

/**
 * A Prisma client over OUR pool (see pool.ts), not one the adapter creates: the size, timeouts,
 * error listener and statistics stay ours. `prisma.$disconnect()` does not end the pool
 * (the adapter only ends pools it created): close the pool yourself, after the client.
 */
export function createPrisma(pool: pg.Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}
