/**
 * GraphQL over HTTP conformance: graphql-http's server audits against `/graphql` of the real
 * server process (issue 2, "Done when"). One test per MUST audit: every one has to pass. SHOULD
 * and MAY audits are recommendations: one test pins exactly which of them fail today (Apollo 5
 * knowingly differs on a few, see TOOLCHAIN.md), so a regression or an improvement shows.
 *
 * The audits send no token: an anonymous caller is answered `{ __typename }` (context.ts).
 * Two of the MUST audits (BF61, 28B9) query `__type`, which is introspection: they pass where
 * introspection is open to everyone (development, test: what `npm start` runs). In production
 * introspection is for admins only, by design (API.md); there those two must be refused as a
 * clean 403 FORBIDDEN (never a 500), and every other MUST audit must still pass.
 */
import { serverAudits, type AuditResult } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

let dbs: TestDatabase[] = [];
/** Default configuration (NODE_ENV=test: introspection open to everyone, as in development). */
let server: ServerProcess;
/** NODE_ENV=production: introspection for admins only. */
let production: ServerProcess;

beforeAll(async () => {
  dbs = await Promise.all([createTestDatabase(), createTestDatabase()]);
  [server, production] = await Promise.all([
    startServerProcess({ DATABASE_URL: dbs[0]!.url }),
    startServerProcess({ DATABASE_URL: dbs[1]!.url, NODE_ENV: "production" }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([server?.stop(), production?.stop()]);
  await Promise.all(dbs.map((db) => db.drop()));
});

// Built at collection time; the URL is read lazily, once the server is up.
const audits = serverAudits({ url: () => server.url, fetchFn: fetch });
const must = audits.filter((a) => a.name.startsWith("MUST"));
const recommended = audits.filter((a) => !a.name.startsWith("MUST"));
const productionMust = serverAudits({ url: () => production.url, fetchFn: fetch }).filter((a) => a.name.startsWith("MUST"));
/** MUST audits whose query is `{ __type(name: ...) }`: introspection, closed to anonymous callers in production. */
const INTROSPECTING_AUDITS = new Set(["BF61", "28B9"]);

/** The failing audit's reason with the response body, so a failure says what the server sent. */
async function explain(result: AuditResult): Promise<string> {
  if (result.status === "ok") return "ok";
  let body = "";
  try {
    body = await result.response.clone().text();
  } catch {
    body = "(body already read)";
  }
  return `${result.reason}\n  status ${result.response.status}, content-type ${result.response.headers.get("content-type")}\n  body ${body.slice(0, 500)}`;
}

it("answers an anonymous { __typename } with data (what the audits rely on)", async () => {
  const res = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query: "{ __typename }" }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ data: { __typename: "Query" } });
});

describe("MUST audits", () => {
  it("there are MUST audits to run", () => {
    expect(must.length).toBeGreaterThanOrEqual(13);
  });

  it.each(must.map((a) => [`${a.id} ${a.name}`, a] as const))("%s", async (_name, audit) => {
    const result = await audit.fn();
    expect(result.status, await explain(result)).toBe("ok");
  });
});

describe("MUST audits in production (introspection for admins only)", () => {
  it("the audits that introspect are the ones we expect", () => {
    expect(productionMust.filter((a) => INTROSPECTING_AUDITS.has(a.id)).map((a) => a.id).sort()).toEqual([...INTROSPECTING_AUDITS].sort());
  });

  it.each(productionMust.map((a) => [`${a.id} ${a.name}`, a] as const))("%s", async (_name, audit) => {
    const result = await audit.fn();
    if (!INTROSPECTING_AUDITS.has(audit.id)) {
      expect(result.status, await explain(result)).toBe("ok");
      return;
    }
    // Refused by policy: a 403 with a GraphQL error body, not a server error.
    expect(result.status).toBe("error");
    if (result.status === "ok") return;
    expect(result.response.status).toBe(403);
    const body = (await result.response.clone().json()) as { data?: unknown; errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe("FORBIDDEN");
    expect(body.data).toBeUndefined();
  });
});

/**
 * The SHOULD / MAY audits Apollo 5 knowingly does not pass (TOOLCHAIN.md): GET with URL-encoded
 * parameters (GET is refused: CSRF), and a 400 instead of 200 for request errors answered as
 * application/json. A regression (one more failing) or an improvement (one fewer) changes this
 * list and fails the test below: update it on purpose.
 */
const KNOWN_FAILING_RECOMMENDATIONS = [
  "572B SHOULD use 200 status code on document parsing failure when accepting application/json",
  "5A70 MAY accept application/x-www-form-urlencoded formatted GET requests",
  "6A70 MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json",
  "7B9B SHOULD use a status code of 200 on variable coercion failure when accepting application/json",
  "D6D5 MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/graphql-response+json",
  "FDE2 SHOULD use 200 status code on document validation failure when accepting application/json",
];

describe("SHOULD / MAY audits (recommendations)", () => {
  it(`pass 55 of 61 audits in all: exactly the ${KNOWN_FAILING_RECOMMENDATIONS.length} known recommendations fail`, async () => {
    const failing: string[] = [];
    const reasons: string[] = [];
    for (const audit of recommended) {
      const result = await audit.fn();
      if (result.status === "ok") continue;
      failing.push(`${audit.id} ${audit.name}`);
      reasons.push(`  - ${audit.id} ${audit.name}: ${await explain(result)}`);
    }
    const passing = must.length + recommended.length - failing.length;
    console.log([`graphql-http audits passing: ${passing}/${must.length + recommended.length} (MUST ${must.length}/${must.length})`, ...reasons].join("\n"));
    expect(failing.sort(), reasons.join("\n")).toEqual(KNOWN_FAILING_RECOMMENDATIONS);
    expect(must.length + recommended.length).toBe(61);
    expect(passing).toBe(55);
  }, 60_000);
});
