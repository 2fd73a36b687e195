import { useEffect, useRef, useState, type FormEvent } from "react";
import { Provider, useQuery } from "urql";
import { createApiClient, describeError, type ApiClient, type LinkState } from "./client";
import { MeDocument } from "./generated/graphql";
import { readToken, saveToken, peekClaims, TOKEN_KEY } from "./token";
import { ScansPage } from "./ScansPage";
import { TokenContext } from "./auth-context";
import { CapacityPage } from "./CapacityPage";

export function App() {
  const [token, setToken] = useState(readToken);
  const signIn = (t: string) => {
    saveToken(t);
    setToken(t);
  };
  // A sign-in link opened in this tab (`#token=…` changes only the fragment: no reload) or a
  // sign-in in another tab (storage event) switches user here too, never keeps the old one.
  useEffect(() => {
    const onHash = () => {
      if (!/[#&]token=/.test(window.location.hash)) return;
      const next = readToken();
      if (next) setToken(next);
    };
    const onStorage = (e: StorageEvent) => {
      if (e.key === TOKEN_KEY) setToken(e.newValue ?? "");
    };
    window.addEventListener("hashchange", onHash);
    window.addEventListener("storage", onStorage);
    return () => {
      window.removeEventListener("hashchange", onHash);
      window.removeEventListener("storage", onStorage);
    };
  }, []);
  if (!token) return <SignIn onSignIn={signIn} />;
  return <Connected key={token} token={token} onSignIn={signIn} onSignOut={() => signIn("")} />;
}

function SignIn(props: { onSignIn: (token: string) => void; problem?: string | null }) {
  const [draft, setDraft] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (draft.trim()) props.onSignIn(draft.trim());
  };
  return (
    <main className="signin" id="main">
      <h1>DataGuardian</h1>
      <p>Scan documents, code and databases for personal data (GDPR / UAVG).</p>
      {props.problem ? (
        <p role="alert" className="error">
          {props.problem}
        </p>
      ) : null}
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h2 id="signin-title">Sign in</h2>
        <label htmlFor="token">Access token</label>
        <textarea id="token" name="token" rows={4} autoComplete="off" spellCheck={false} value={draft} onChange={(e) => setDraft(e.target.value)} aria-describedby="token-help" required />
        <p id="token-help" className="hint">
          Paste the JWT your identity provider issued. In development, <code>npm start</code> prints a sign-in link, and{" "}
          <code>npm run token -- --user you</code> prints a token.
        </p>
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}

function Connected(props: { token: string; onSignIn: (token: string) => void; onSignOut: () => void }) {
  const [link, setLink] = useState<LinkState>("connecting");
  const [epoch, setEpoch] = useState(0);
  const [expired, setExpired] = useState(false);
  // The client opens a socket at once: made in an effect (not a memo, which React may run twice
  // and throw one result away with its socket open) and disposed by the same effect.
  const [api, setApi] = useState<ApiClient | null>(null);
  useEffect(() => {
    const created = createApiClient(props.token, { onReconnect: () => setEpoch((n) => n + 1), onLinkState: setLink, onAuthLost: () => setExpired(true) });
    setApi(created);
    return () => created.dispose();
  }, [props.token]);
  // The token's own expiry, as the page sees it: the badge and a sign-in offer at that moment,
  // not at the next click. (The server closes the socket then too; this covers a quiet page.)
  const exp = peekClaims(props.token)?.exp;
  useEffect(() => {
    if (!exp) return;
    const ms = exp * 1000 - Date.now();
    if (ms <= 0) {
      setExpired(true);
      return;
    }
    const timer = setTimeout(() => setExpired(true), Math.min(ms, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }, [exp]);
  useEffect(() => {
    if (!expired) return;
    setLink("signed-out");
    api?.dispose();
  }, [expired, api]);
  if (!api) return null;
  return (
    <TokenContext.Provider value={props.token}>
      <Provider value={api.client}>
        <Shell token={props.token} link={link} epoch={epoch} expired={expired} onSignIn={props.onSignIn} onSignOut={props.onSignOut} />
      </Provider>
    </TokenContext.Provider>
  );
}

function Reauthenticate(props: { exp?: number; onSignIn: (token: string) => void; onSignOut: () => void }) {
  const [draft, setDraft] = useState("");
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const when = props.exp ? ` at ${new Date(props.exp * 1000).toLocaleTimeString()}` : "";
  return (
    <section className="card expired" role="alert" aria-labelledby="expired-title" data-testid="signed-out">
      <h1 id="expired-title" ref={ref} tabIndex={-1}>
        Signed out
      </h1>
      <p>Your sign-in expired{when} or was refused by the server. Paste a new token to go on; your sessions and scans are kept.</p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (draft.trim()) props.onSignIn(draft.trim());
        }}
      >
        <label htmlFor="reauth-token">New access token</label>
        <input id="reauth-token" value={draft} onChange={(e) => setDraft(e.target.value)} autoComplete="off" spellCheck={false} />
        <button type="submit">Sign in again</button>
        <button type="button" className="secondary" onClick={props.onSignOut}>
          Sign out
        </button>
      </form>
    </section>
  );
}

type Page = "scans" | "capacity";

const LINK_LABEL: Record<LinkState, string> = { live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…", "signed-out": "Signed out" };

function Shell(props: { token: string; link: LinkState; epoch: number; expired: boolean; onSignIn: (token: string) => void; onSignOut: () => void }) {
  const [me] = useQuery({ query: MeDocument });
  const [page, setPage] = useState<Page>(() => (window.location.hash === "#capacity" ? "capacity" : "scans"));
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    const onHash = () => setPage(window.location.hash === "#capacity" ? "capacity" : "scans");
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const go = (p: Page) => {
    window.history.replaceState(null, "", p === "capacity" ? "#capacity" : window.location.pathname);
    setPage(p);
    mainRef.current?.focus();
  };

  if (me.error && me.error.graphQLErrors[0]?.extensions?.code === "UNAUTHENTICATED" && !me.data) {
    return <SignIn onSignIn={props.onSignIn} problem={describeError(me.error)} />;
  }
  const viewer = me.data?.me;
  const isAdmin = viewer?.role === "ADMIN";
  const claims = peekClaims(props.token);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">DataGuardian</span>
        <nav aria-label="Main">
          <button type="button" aria-current={page === "scans" ? "page" : undefined} onClick={() => go("scans")}>
            Scans
          </button>
          {isAdmin ? (
            <button type="button" aria-current={page === "capacity" ? "page" : undefined} onClick={() => go("capacity")}>
              Capacity
            </button>
          ) : null}
          {isAdmin ? <a href="/explorer">Explorer</a> : null}
        </nav>
        <span className={`link link-${props.link}`} role="status" aria-live="polite" data-testid="link">
          {LINK_LABEL[props.link]}
        </span>
        <span className="who" data-testid="viewer">
          {viewer ? `${viewer.id}${isAdmin ? " (admin)" : ""}` : (claims?.sub ?? "…")}
        </span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {props.expired ? <Reauthenticate exp={claims?.exp} onSignIn={props.onSignIn} onSignOut={props.onSignOut} /> : null}
        {me.error && !props.expired ? (
          <p role="alert" className="error">
            {describeError(me.error)}
          </p>
        ) : null}
        {page === "capacity" && isAdmin ? <CapacityPage epoch={props.epoch} /> : <ScansPage epoch={props.epoch} />}
      </main>
    </div>
  );
}
