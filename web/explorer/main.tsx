import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "./explorer.css";
import { createGraphiQLFetcher, type Fetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createClient } from "graphql-ws";
import { StrictMode, useMemo, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { bearer, graphqlUrls, peekClaims, readToken, saveToken } from "../src/token";

const CAPACITY = `# Capacity over every live instance (ADMIN only).
query Capacity($minutes: Int = 15) {
  capacity {
    at
    level
    activeUsers
    connectedClients
    cpu
    memoryUsed
    scans { running queued maxConcurrent maxPerUser }
    database { size inUse idle waiting }
    # clearedAt: null while the alert holds; set once it recovered (shown as cleared, not red).
    alerts { level metric message at clearedAt value threshold }
    recommendations { severity metric message }
    history(minutes: $minutes) { at cpu memoryUsed activeUsers runningScans queuedScans poolInUse }
  }
}
`;

const CAPACITY_UPDATES = `# Live capacity reports over graphql-ws as instances sample (ADMIN only).
subscription CapacityUpdates {
  capacityUpdates {
    at
    level
    activeUsers
    cpu
    memoryUsed
    scans { running queued }
    database { inUse waiting }
    alerts { level metric message at clearedAt }
  }
}
`;

const ME = `# Who the token says you are.
query Me {
  me { id role }
}
`;

type IntrospectionState = "unknown" | "ok" | "denied" | "unauthenticated";

function codesOf(result: unknown): string[] {
  const errors = (result as { errors?: Array<{ extensions?: { code?: string } }> } | null)?.errors;
  return Array.isArray(errors) ? errors.map((e) => e.extensions?.code ?? "") : [];
}

/** GraphiQL's fetcher (HTTP for queries and mutations, graphql-ws for subscriptions) with the token. */
function useFetcher(token: string, onIntrospection: (state: IntrospectionState) => void): Fetcher {
  return useMemo(() => {
    const urls = graphqlUrls();
    const authorization = bearer(token);
    const base = createGraphiQLFetcher({
      url: urls.http,
      headers: authorization ? { authorization } : {},
      wsClient: createClient({
        url: urls.ws,
        lazy: true,
        retryAttempts: 5,
        connectionParams: () => (authorization ? { authorization } : {}),
      }),
    });
    return async (params, opts) => {
      const result = await base(params, opts);
      if (params.operationName === "IntrospectionQuery" && result && typeof result === "object" && !(Symbol.asyncIterator in result)) {
        const codes = codesOf(result);
        onIntrospection(codes.includes("FORBIDDEN") ? "denied" : codes.includes("UNAUTHENTICATED") ? "unauthenticated" : codes.length ? "unknown" : "ok");
      }
      return result;
    };
  }, [token, onIntrospection]);
}

function TokenBar(props: { token: string; onToken: (token: string) => void }) {
  const [draft, setDraft] = useState(props.token);
  const claims = peekClaims(props.token);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    props.onToken(draft.trim());
  };
  return (
    <form className="dg-tokenbar" onSubmit={submit} aria-label="Authentication">
      <a className="dg-brand" href="/">DataGuardian</a>
      <label htmlFor="dg-token">Token</label>
      <input
        id="dg-token"
        type="password"
        autoComplete="off"
        spellCheck={false}
        placeholder="Paste a JWT (npm run token -- --user you --admin)"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
      />
      <button type="submit">Use token</button>
      <button
        type="button"
        onClick={() => {
          setDraft("");
          props.onToken("");
        }}
      >
        Clear
      </button>
      <span className="dg-who" aria-live="polite">
        {claims?.sub ? `as ${claims.sub} (${claims.role === "admin" ? "admin" : "user"})` : "no token: anonymous"}
      </span>
    </form>
  );
}

function Explorer() {
  const [token, setToken] = useState(readToken);
  const [introspection, setIntrospection] = useState<IntrospectionState>("unknown");
  const fetcher = useFetcher(token, setIntrospection);
  const onToken = (next: string) => {
    saveToken(next);
    setIntrospection("unknown");
    setToken(next);
  };
  return (
    <div className="dg-explorer">
      <TokenBar token={token} onToken={onToken} />
      {introspection === "denied" || introspection === "unauthenticated" ? (
        <div className="dg-banner" role="alert" data-testid="introspection-denied">
          <strong>Only admins can introspect this server.</strong>{" "}
          {introspection === "unauthenticated"
            ? "The token was not accepted (expired or not for this server). "
            : "Schema introspection is turned off here for everyone but admins, so the explorer has no schema to show. "}
          Paste an admin token above (<code>npm run token -- --user you --admin</code>), or use the published{" "}
          <code>schema.graphql</code>.
        </div>
      ) : null}
      <div className="dg-graphiql">
        <GraphiQL
          key={token}
          fetcher={fetcher}
          defaultTabs={[{ query: CAPACITY }, { query: CAPACITY_UPDATES }, { query: ME }]}
          defaultEditorToolsVisibility={false}
          isHeadersEditorEnabled
        />
      </div>
    </div>
  );
}

createRoot(document.getElementById("explorer")!).render(
  <StrictMode>
    <Explorer />
  </StrictMode>,
);
