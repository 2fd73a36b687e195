import type { ApolloServer, BaseContext, ContextFunction } from "@apollo/server";
import { HeaderMap } from "@apollo/server";
import type { Request, RequestHandler, Response } from "express";

/**
 * POST/GET /graphql handed to Apollo Server through its integration API
 * (`executeHTTPGraphQLRequest`, the one @as-integrations/express5 wraps), writing the answer
 * with node's own `res.setHeader` / `res.end`.
 *
 * Why not `expressMiddleware` (bench/me.bench.ts): it answers with Express's `res.send`, which
 * hashes every body for an ETag (SHA-1) and checks request freshness, and it parses every URL
 * with the legacy `url.parse`. A GraphQL answer is per caller and never revalidated, so that is
 * work without a use: in one process, bare Apollo answered 16% more requests per CPU second
 * with this handler than with `expressMiddleware`. Everything else is the same: Apollo sets the
 * status, content type and headers (CSRF prevention, `Retry-After`), and incremental delivery
 * is streamed chunk by chunk.
 */
export function apolloHandler<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  context: ContextFunction<[{ req: Request; res: Response }], TContext>,
): RequestHandler {
  server.assertStarted("apolloHandler()");
  return async (req, res) => {
    const headers = new HeaderMap();
    for (const key in req.headers) {
      const value = req.headers[key];
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method.toUpperCase(), headers, search: searchOf(req.url), body: req.body },
      context: () => context({ req, res }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === "complete") {
      const body = response.body.string;
      res.setHeader("content-length", Buffer.byteLength(body));
      // HEAD: the headers of the GET, no body (as res.send does).
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    for await (const chunk of response.body.asyncIterator) {
      res.write(chunk);
      // compression middleware, if one is ever mounted, buffers until flushed.
      const flushable = res as Response & { flush?: () => void };
      if (typeof flushable.flush === "function") flushable.flush();
    }
    res.end();
  };
}

/** The query string of a request target, `?` included ("" when none), fragment excluded: what `url.parse(...).search` gave. */
export function searchOf(url: string): string {
  const hash = url.indexOf("#");
  const target = hash < 0 ? url : url.slice(0, hash);
  const q = target.indexOf("?");
  return q < 0 || q === target.length - 1 ? "" : target.slice(q);
}
