import "reflect-metadata";
import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config/config.js";
import { signToken } from "./platform/auth/jwt.js";
import { createLogger } from "./platform/observability/logger.js";

/**
 * The process around the app: configuration, logging, signals. `npm start` runs the API
 * (HTTP + WebSocket, plus scan workers unless SCAN_WORKERS=0); `npm run worker` runs scan
 * workers only.
 */
export async function run(role: "api" | "worker"): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger({ level: config.LOG_LEVEL });
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));

  const app = await startApp(config, log, { role });

  let firstSignalAt = 0;
  const shutdown = (signal: string) => {
    if (firstSignalAt) {
      // Under `npm start`, Ctrl-C reaches node twice: from the terminal (the whole process
      // group) and forwarded by npm. Only a signal sent later means "stop now".
      if (Date.now() - firstSignalAt < 1_000) return;
      log.warn({ signal }, "second signal: exiting now");
      process.exit(130);
    }
    firstSignalAt = Date.now();
    log.info({ signal, graceMs: config.SHUTDOWN_GRACE }, "shutting down");
    const force = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, config.SHUTDOWN_GRACE + 15_000);
    force.unref();
    app.stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));

  if (role === "api" && !config.isProduction && app.jwtSecret) {
    const token = await signToken(app.jwtSecret, { sub: "admin", role: "admin", expiresIn: "12h", issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
    // Printed for a newcomer trying it out; never in production.
    process.stdout.write(
      [
        "",
        `  DataGuardian Server is ready: ${app.url}`,
        `  Web app, signed in as admin: ${app.url.replace(/\/graphql$/, "")}/#token=${token}`,
        `  GraphQL explorer (offline):  ${app.url.replace(/\/graphql$/, "")}/explorer`,
        "  An admin token for trying it out (12h, development only):",
        "",
        `    export TOKEN=${token}`,
        `    curl -s ${app.url} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '{"query":"{ me { id role } }"}'`,
        "",
        "  More tokens: npm run token -- --user alice [--admin]",
        "",
        "",
      ].join("\n"),
    );
  }
}

export function start(role: "api" | "worker"): void {
  run(role).catch((err: unknown) => {
    console.error(`Start-up failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
