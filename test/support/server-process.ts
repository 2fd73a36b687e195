import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { signToken } from "../../src/platform/auth/jwt.js";
import { onLines } from "./lines.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly wsUrl: string;
  readonly base: string;
  readonly secret: string;
  /** Every line the process printed (stdout and stderr). */
  readonly output: string[];
  token(user: string, options?: { admin?: boolean; expiresIn?: string | number }): Promise<string>;
  /** Sends a signal and waits for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

/**
 * Starts the real server (`src/main.ts`, as `npm start` does) as a child process on a free
 * port and waits for its "server ready" line.
 */
export async function startServerProcess(
  env: Record<string, string | undefined>,
  options: { timeoutMs?: number; entry?: string; readyPattern?: string } = {},
): Promise<ServerProcess> {
  const readyPattern = options.readyPattern ?? "server ready";
  const secret = env.JWT_SECRET ?? randomBytes(32).toString("base64url");
  const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", options.entry ?? "src/main.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      PORT: "0",
      // Generated secrets go to a directory of the process's own, never the checkout's .data.
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "dg-server-")),
      HOST: "127.0.0.1",
      JWT_SECRET: secret,
      // A loaded test machine runs at 100% CPU; tests that exercise capacity levels set their own.
      CAPACITY_FORCE_LEVEL: "OK",
      // PostgreSQL connections cost CPU (scram); on a loaded CI machine 5 s is not enough.
      DATABASE_CONNECT_TIMEOUT: "20s",
      // Tests start and cancel many database scans per user; the rate-limit tests set their own.
      DATABASE_TEST_RATE_LIMIT: "10000/1m",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${output.join("\n")}`)), options.timeoutMs ?? 120_000);
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes(readyPattern)) {
        try {
          const parsed = JSON.parse(line) as { port?: number };
          clearTimeout(timer);
          resolve(parsed.port ?? 0);
        } catch {
          // not the JSON line
        }
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) onLines(stream, onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${output.join("\n")}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    base,
    url: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    secret,
    output,
    exited,
    token: (user, o = {}) => signToken(secret, { sub: user, role: o.admin ? "admin" : "user", expiresIn: o.expiresIn ?? "1h" }),
    async stop(signal = "SIGTERM", timeoutMs = 20_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
