import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";

/**
 * The browser clients, built by Vite from `web/` into `web/dist` (`npm run build:web`):
 * the SPA at `/` and the offline admin explorer at `/explorer`. Everything they load comes
 * from this server: the Content-Security-Policy below refuses any other origin, so a page
 * that tried to reach a CDN would fail loudly instead of silently on a closed network.
 */
export interface WebClientsOptions {
  /**
   * Directory holding the built `index.html`, `explorer/index.html` and `assets/`.
   * @default `web/dist` beside the package root (found from this file, in `src/` or `dist/src/`)
   */
  distDir?: string;
}

/** Same-origin only; inline styles are used by React's `style` props and by GraphiQL's editor. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join("; ");

export function defaultWebDistDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../web/dist"), path.resolve(here, "../../../web/dist")];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DataGuardian: web client not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>DataGuardian is running</h1>
<p>The web client has not been built yet. Run <code>npm run build:web</code> and reload this page.</p>
<p>The GraphQL API is at <code>/graphql</code> (HTTP and WebSocket).</p>
</body></html>
`;

export function mountWebClients(app: express.Express, options: WebClientsOptions = {}): void {
  const dist = options.distDir ?? defaultWebDistDir();
  const page = (relative: string, label: string): express.RequestHandler => (_req, res) => {
    const file = path.join(dist, relative);
    res.setHeader("Content-Security-Policy", CSP);
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    if (!existsSync(file)) {
      res.status(503).type("html").send(NOT_BUILT.replace("The web client", label));
      return;
    }
    res.sendFile(file);
  };

  app.get(["/", "/index.html"], page("index.html", "The web client"));
  app.get(["/explorer", "/explorer/", "/explorer/index.html"], page("explorer/index.html", "The explorer"));
  // Hashed file names: cache for a year; a rebuild changes the names.
  app.use(
    "/assets",
    express.static(path.join(dist, "assets"), {
      immutable: true,
      maxAge: "365d",
      index: false,
      fallthrough: true,
      setHeaders: (res) => res.setHeader("X-Content-Type-Options", "nosniff"),
    }),
  );
}
