import type { PrismaClient } from "../../generated/prisma/client.js";
import { isUuid } from "../../shared/ids.js";
import { afterAnchor, type ListPage } from "../sessions/list-page.js";
import type { RowWriter } from "../sessions/session-limits.js";

/** Prisma's Bytes want a Uint8Array over a plain ArrayBuffer (a Buffer may sit on a shared pool). */
const bytes = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** The public columns: never the ciphertext. */
const PUBLIC = {
  id: true, ownerId: true, sessionId: true, name: true, engine: true, host: true, port: true, database: true, user: true, ssl: true, createdAt: true,
} as const;

export interface ConnectionRow {
  id: string;
  ownerId: string;
  sessionId: string;
  name: string;
  engine: "POSTGRESQL" | "MYSQL";
  host: string;
  port: number;
  database: string;
  user: string;
  ssl: boolean;
  createdAt: Date;
}

export interface ConnectionSecretRow extends ConnectionRow {
  passwordCiphertext: Uint8Array;
  keyId: string;
}

export interface NewConnection extends Omit<ConnectionRow, "ownerId" | "createdAt"> {
  passwordCiphertext: Buffer;
  keyId: string;
}

/**
 * Database connection rows. Every function takes `ownerId` and puts it in the `where`;
 * rows of expired sessions (not yet deleted by the cleanup job) count as gone.
 */
export class ConnectionRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /** `db`: the transaction of the per-session cap check (sessions/session-limits.ts), or this repo's client. */
  insert(ownerId: string, row: NewConnection, db: RowWriter = this.prisma): Promise<ConnectionRow> {
    return db.databaseConnection.create({ data: { ...row, passwordCiphertext: bytes(row.passwordCiphertext), ownerId }, select: PUBLIC });
  }

  /** Oldest first; one page when `page` is given (its `after` must be a connection of this session, else "BAD_AFTER"). */
  async listBySession(ownerId: string, sessionId: string, page?: ListPage): Promise<ConnectionRow[] | "BAD_AFTER"> {
    if (!isUuid(sessionId)) return [];
    let after = {};
    if (page?.after) {
      const anchor = await this.prisma.databaseConnection.findFirst({ where: { id: page.after, ownerId, sessionId }, select: { id: true, createdAt: true } });
      if (!anchor) return "BAD_AFTER";
      after = afterAnchor(anchor);
    }
    return this.prisma.databaseConnection.findMany({
      where: { ownerId, sessionId, ...after },
      select: PUBLIC,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      ...(page ? { take: page.first } : {}),
    });
  }

  /** With the sealed password, for the two places that decrypt it. */
  async findForUse(ownerId: string, id: string): Promise<ConnectionSecretRow | null> {
    if (!isUuid(id)) return null;
    return this.prisma.databaseConnection.findFirst({
      where: { id, ownerId, session: { ownerId, expiresAt: { gt: new Date() } } },
      select: { ...PUBLIC, passwordCiphertext: true, keyId: true },
    });
  }

  async findOwned(ownerId: string, id: string): Promise<ConnectionRow | null> {
    if (!isUuid(id)) return null;
    return this.prisma.databaseConnection.findFirst({
      where: { id, ownerId, session: { ownerId, expiresAt: { gt: new Date() } } },
      select: PUBLIC,
    });
  }

  /** Changes the settings (and the sealed password when given) of the owner's connection. */
  async updateOwned(
    ownerId: string,
    id: string,
    data: Omit<ConnectionRow, "id" | "ownerId" | "sessionId" | "createdAt">,
    sealed: { ciphertext: Buffer; keyId: string } | null,
  ): Promise<ConnectionRow | null> {
    if (!isUuid(id)) return null;
    const { count } = await this.prisma.databaseConnection.updateMany({
      where: { id, ownerId, session: { ownerId, expiresAt: { gt: new Date() } } },
      data: { ...data, ...(sealed ? { passwordCiphertext: bytes(sealed.ciphertext), keyId: sealed.keyId } : {}) },
    });
    return count > 0 ? this.findOwned(ownerId, id) : null;
  }

  async deleteOwned(ownerId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await this.prisma.databaseConnection.deleteMany({ where: { id, ownerId } });
    return count > 0;
  }

  /**
   * Replaces the sealed password with one under the current key, only if the row still holds
   * the old key's ciphertext (two concurrent re-seals: the second is a no-op).
   */
  async reseal(ownerId: string, id: string, fromKeyId: string, sealed: { ciphertext: Buffer; keyId: string }): Promise<boolean> {
    const { count } = await this.prisma.databaseConnection.updateMany({
      where: { id, ownerId, keyId: fromKeyId },
      data: { passwordCiphertext: bytes(sealed.ciphertext), keyId: sealed.keyId },
    });
    return count > 0;
  }
}
