// `npm run prisma:generate`: generate the Prisma client (src/generated/prisma) offline.
// The Prisma CLI wants to download a schema-engine binary at start; `generate` does not use it,
// so PRISMA_SCHEMA_ENGINE_BINARY=/bin/false keeps it from trying (see /work/shared/TOOLCHAIN.md).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Runs `prisma generate` with the project's own prisma CLI; throws when it fails. */
export function prismaGenerate() {
  const cli = path.join(root, "node_modules", "prisma", "build", "index.js");
  if (!existsSync(cli)) {
    throw new Error(`prisma CLI not found at ${cli}: run npm install first`);
  }
  const result = spawnSync(process.execPath, [cli, "generate"], {
    cwd: root,
    encoding: "utf8",
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.platform === "win32" ? "NUL" : "/bin/false",
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
      CHECKPOINT_DISABLE: "1",
    },
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
    throw new Error(`prisma generate failed (exit ${result.status ?? result.signal}):\n${output}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    prismaGenerate();
    console.log("prisma: client generated in src/generated/prisma");
  } catch (error) {
    console.error(`prisma: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
