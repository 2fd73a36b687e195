// Runs only the canary, through the same global setup (embedded PostgreSQL when DATABASE_URL
// is unset) as the real suite: `npm test -- --config test/canary/vitest.config.ts`.
// (Not mergeConfig: it would concatenate the include lists and run the whole suite.)
import { defineConfig } from "vitest/config";
import base from "../../vitest.config.js";

export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/canary/**/*.test.ts"], exclude: [] },
});
