import "reflect-metadata";
import { start } from "./cli.js";

/** `npm run worker`: scan workers only (SCAN_WORKERS of them), no HTTP. Needs DATABASE_URL and REDIS_URL to share work. */
start("worker");
