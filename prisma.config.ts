import { defineConfig } from "prisma/config";

// Used by the Prisma CLI where its engine can be downloaded (`prisma migrate deploy`).
// The server itself applies migrations with the WebAssembly schema engine (src/platform/db/migrate.ts).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" },
});
