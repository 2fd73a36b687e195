import "reflect-metadata";
import { start } from "./cli.js";

/** `npm start`: the API (HTTP + WebSocket on one port), with scan workers unless SCAN_WORKERS=0. */
start("api");
