import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Provider, useQuery } from "urql";
import { createApiClient, describeError, type LinkState } from "./client";
import { MeDocument } from "./generated/graphql";
import { readToken, saveToken, peekClaims } from "./token";
import { ScansPage } from "./ScansPage";
import { CapacityPage } from "./CapacityPage";

export function App() {
  const [token, setToken] = useState(readToken);
  const signIn = (t: string) => {
    saveToken(t);
    setToken(t);
  };
  if (!token) return <SignIn onSignIn={signIn} />;
  return <Connected key={token} token={token} onSignOut={() => signIn("")} />;
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

function Connected(props: { token: string; onSignOut: () => void }) {
  const [link, setLink] = useState<LinkState>("connecting");
  const [epoch, setEpoch] = useState(0);
  const api = useMemo(
    () => createApiClient(props.token, { onReconnect: () => setEpoch((n) => n + 1), onLinkState: setLink }),
    [props.token],
  );
  useEffect(() => () => api.dispose(), [api]);
  return (
    <Provider value={api.client}>
      <Shell token={props.token} link={link} epoch={epoch} onSignOut={props.onSignOut} />
    </Provider>
  );
}

type Page = "scans" | "capacity";

function Shell(props: { token: string; link: LinkState; epoch: number; onSignOut: () => void }) {
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

  if (me.error && me.error.graphQLErrors[0]?.extensions?.code === "UNAUTHENTICATED") {
    return <SignIn onSignIn={(t) => (saveToken(t), window.location.reload())} problem={describeError(me.error)} />;
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
        <span className={`link link-${props.link}`} role="status" aria-live="polite">
          {props.link === "live" ? "Live" : props.link === "reconnecting" ? "Reconnecting…" : "Connecting…"}
        </span>
        <span className="who" data-testid="viewer">
          {viewer ? `${viewer.id}${isAdmin ? " (admin)" : ""}` : (claims?.sub ?? "…")}
        </span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {me.error ? (
          <p role="alert" className="error">
            {describeError(me.error)}
          </p>
        ) : null}
        {page === "capacity" && isAdmin ? <CapacityPage epoch={props.epoch} /> : <ScansPage epoch={props.epoch} />}
      </main>
    </div>
  );
}
