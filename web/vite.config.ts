import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

/**
 * Two pages, one build: the SPA at `/` (index.html) and the admin explorer at `/explorer`
 * (explorer/index.html). Everything is bundled into dist/: the server serves it and nothing
 * is fetched from a CDN. JSX goes through Vite's own transform (no React plugin needed:
 * there is no fast refresh to support in a build served by the server).
 */
export default defineConfig({
  root: here,
  base: "/",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: resolve(here, "dist"),
    emptyOutDir: true,
    // Monaco (the explorer's editor) is large by nature; the SPA's own chunk stays small.
    chunkSizeWarningLimit: 5_000,
    rollupOptions: {
      // React libraries mark modules "use client" for server components; meaningless in a bundle.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
      input: {
        app: resolve(here, "index.html"),
        explorer: resolve(here, "explorer/index.html"),
      },
    },
  },
  worker: { format: "es" },
  server: {
    // `npm run dev -w web`: the SPA with hot reload against a server on :4000.
    proxy: { "/graphql": { target: "http://localhost:4000", ws: true } },
  },
});
