/**
 * The signed-in token, shared by the SPA and the explorer (same origin, one localStorage
 * key). A `#token=...` fragment (the sign-in URL `npm start` prints in development) is
 * taken once and removed from the address bar, so it is not left in history or bookmarks.
 */
export const TOKEN_KEY = "dg.token";
const KEY = TOKEN_KEY;

export function readToken(): string {
  const hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const fromHash = hash.get("token");
  if (fromHash) {
    saveToken(fromHash);
    hash.delete("token");
    const rest = hash.toString();
    window.history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
    return fromHash;
  }
  try {
    return window.localStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveToken(token: string): void {
  try {
    if (token) window.localStorage.setItem(KEY, token);
    else window.localStorage.removeItem(KEY);
  } catch {
    // storage disabled (private mode): the token lives for this page only
  }
}

/** `Bearer <token>` after trimming what people paste (quotes, a leading "Bearer "). */
export function bearer(token: string): string | undefined {
  const t = token.trim().replace(/^["']|["']$/g, "").replace(/^Bearer\s+/i, "");
  return t ? `Bearer ${t}` : undefined;
}

/** The claims of a JWT, for display only (the server verifies; this never trusts them). */
export function peekClaims(token: string): { sub?: string; role?: string; exp?: number } | null {
  try {
    const part = token.trim().replace(/^Bearer\s+/i, "").split(".")[1];
    if (!part) return null;
    return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}

export function graphqlUrls(): { http: string; ws: string } {
  const { protocol, host } = window.location;
  return { http: `${protocol}//${host}/graphql`, ws: `${protocol === "https:" ? "wss:" : "ws:"}//${host}/graphql` };
}
