import "reflect-metadata";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildAppSchema, printAppSchema } from "../src/graphql/schema.js";

/** `npm run schema`: prints the served schema, sorted, to schema.graphql (or stdout with --stdout). */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sdl = printAppSchema(await buildAppSchema());
if (process.argv.includes("--stdout")) {
  process.stdout.write(sdl);
} else {
  await writeFile(path.join(root, "schema.graphql"), sdl);
  console.log(`wrote schema.graphql (${sdl.split("\n").length} lines)`);
}
