import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type FormEvent } from "react";
import { useMutation, useQuery, useSubscription } from "urql";
import { connectionAdvice, type ConnectionFacts } from "./advice";
import { useToken } from "./auth-context";
import { describeError, formatBytes } from "./client";
import {
  CancelScanDocument,
  CloseSessionDocument,
  DatabaseConnectionsDocument,
  DeleteDatabaseConnectionDocument,
  MyScansDocument,
  OpenSessionDocument,
  SaveDatabaseConnectionDocument,
  ScansDocument,
  SessionsDocument,
  StartCodeScanDocument,
  StartDatabaseScanDocument,
  StartDocumentScanDocument,
  TestDatabaseConnectionDocument,
  UpdateDatabaseConnectionDocument,
  UploadLimitsDocument,
  type DatabaseConnectionsQuery,
  type DatabaseEngine,
  type ProgressEventFragment,
  type ScanRowFragment,
} from "./generated/graphql";
import { FindingsPanel } from "./FindingsPanel";
import { bearer, graphqlUrls } from "./token";
import { checkFiles, postGraphQL, readForUpload, supportedTypesText, type ScanAs, type UploadLimitsInfo } from "./upload";

const SESSION_KEY = "dg.session";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

export function ScansPage(props: { epoch: number }) {
  const [sessions, refetchSessions] = useQuery({ query: SessionsDocument });
  const [sessionId, setSessionId] = useState<string | null>(() => localStorage.getItem(SESSION_KEY));
  const [, openSession] = useMutation(OpenSessionDocument);
  const [, closeSession] = useMutation(CloseSessionDocument);
  const [problem, setProblem] = useState<string | null>(null);

  const list = sessions.data?.sessions ?? [];
  const current = list.find((s) => s.id === sessionId) ?? list[0] ?? null;
  useEffect(() => {
    if (current && current.id !== sessionId) choose(current.id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [current?.id]);
  const choose = (id: string | null) => {
    setSessionId(id);
    if (id) localStorage.setItem(SESSION_KEY, id);
    else localStorage.removeItem(SESSION_KEY);
  };
  const open = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = (new FormData(form).get("name") as string).trim();
    const res = await openSession({ input: { name: name || null } });
    setProblem(describeError(res.error));
    if (res.data) {
      choose(res.data.openSession.id);
      refetchSessions({ requestPolicy: "network-only" });
      form.reset();
    }
  };
  const close = async () => {
    if (!current || !window.confirm(`Close "${current.name ?? "session"}"? Its scans, findings and connections are deleted.`)) return;
    const res = await closeSession({ id: current.id });
    setProblem(describeError(res.error));
    choose(null);
    refetchSessions({ requestPolicy: "network-only" });
  };

  return (
    <>
      <section aria-labelledby="sessions-title" className="card">
        <h1 id="sessions-title">Session</h1>
        {problem ? (
          <p role="alert" className="error">
            {problem}
          </p>
        ) : null}
        {sessions.error ? (
          <p role="alert" className="error">
            {describeError(sessions.error)}
          </p>
        ) : null}
        <div className="row">
          {list.length > 0 ? (
            <>
              <label htmlFor="session-select">Current session</label>
              <select id="session-select" value={current?.id ?? ""} onChange={(e) => choose(e.target.value)}>
                {list.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name ?? "Untitled"} · since {new Date(s.createdAt).toLocaleString()}
                  </option>
                ))}
              </select>
              <button type="button" className="secondary" onClick={close}>
                Close session
              </button>
            </>
          ) : sessions.fetching ? (
            <p>Loading sessions…</p>
          ) : (
            <p>No open session yet. Open one to start scanning.</p>
          )}
        </div>
        <form className="row" onSubmit={open} aria-label="Open a new session">
          <label htmlFor="session-name">New session name</label>
          <input id="session-name" name="name" placeholder="e.g. HR archive" maxLength={120} />
          <button type="submit">Open session</button>
        </form>
        {current ? (
          <p className="hint">Expires {new Date(current.expiresAt).toLocaleString()} unless used; then everything in it is deleted.</p>
        ) : null}
      </section>
      {current ? <SessionWork key={current.id} sessionId={current.id} epoch={props.epoch} /> : null}
    </>
  );
}

type Row = ScanRowFragment;
type Connection = DatabaseConnectionsQuery["databaseConnections"][number];

type StatusFilter = "" | "ACTIVE" | "SUCCEEDED" | "FAILED" | "CANCELLED";
type KindFilter = "" | "DOCUMENT" | "CODE" | "DATABASE";
export interface ListFilter {
  allSessions: boolean;
  status: StatusFilter;
  kind: KindFilter;
}
const STATUS_VALUES: Record<Exclude<StatusFilter, "">, string[]> = {
  ACTIVE: ["QUEUED", "RUNNING"],
  SUCCEEDED: ["SUCCEEDED"],
  FAILED: ["FAILED"],
  CANCELLED: ["CANCELLED"],
};

/**
 * The scans of one session (or all the user's), filtered on the server, kept live by `myScans`.
 * `since` is where this page left off: on the first subscribe the time the page started looking,
 * on every resubscribe (after a reconnect) the `at` of the last event it saw, so scans that
 * ended while the page was not listening still arrive (and the list is re-read as well).
 */
function useLiveScans(sessionId: string, filter: ListFilter, epoch: number) {
  const variables = useMemo(
    () => ({
      sessionId: filter.allSessions ? null : sessionId,
      status: filter.status ? STATUS_VALUES[filter.status] : null,
      kind: filter.kind ? [filter.kind] : null,
      first: 50,
    }),
    [sessionId, filter.allSessions, filter.status, filter.kind],
  );
  const [query, refetch] = useQuery({ query: ScansDocument, variables: variables as never });
  const [rows, setRows] = useState<Map<string, Row>>(new Map());
  const foreign = useRef(new Set<string>());
  const lastAt = useRef<string>(new Date(Date.now() - 5_000).toISOString());
  const [since, setSince] = useState<string>(lastAt.current);

  useEffect(() => {
    if (epoch > 0) {
      setSince(lastAt.current);
      refetch({ requestPolicy: "network-only" });
    }
  }, [epoch, refetch]);

  useEffect(() => {
    const nodes = query.data?.scans.edges.map((e) => e.node);
    if (!nodes) return;
    setRows((prev) => {
      const next = new Map<string, Row>();
      for (const n of nodes) {
        const before = prev.get(n.id);
        // A live event newer than this read wins (the read may have started before it).
        next.set(n.id, before && TERMINAL.has(before.status) && !TERMINAL.has(n.status) ? before : n);
      }
      return next;
    });
  }, [query.data]);

  const onEvent = useCallback(
    (_prev: unknown, data: { myScans: ProgressEventFragment }) => {
      const e = data.myScans;
      if (e.at > lastAt.current) lastAt.current = e.at;
      setRows((prev) => {
        const row = prev.get(e.scanId);
        if (!row) {
          // Another session's scan, or one started elsewhere: re-read once to find out.
          if (!foreign.current.has(e.scanId)) {
            foreign.current.add(e.scanId);
            refetch({ requestPolicy: "network-only" });
          }
          return prev;
        }
        // A late event must not move a finished scan back (events arrive in order per scan).
        if (TERMINAL.has(row.status) && !TERMINAL.has(e.status)) return prev;
        const next = new Map(prev);
        next.set(e.scanId, {
          ...row,
          status: e.status,
          progress: e.progress,
          stage: e.stage,
          itemsProcessed: e.itemsProcessed,
          itemsTotal: e.itemsTotal,
          queuePosition: e.queuePosition,
          findingsCount: e.findingsCount,
          riskLevel: e.riskLevel,
          error: e.error,
          startedAt: row.startedAt ?? (e.status === "RUNNING" ? e.at : null),
          finishedAt: TERMINAL.has(e.status) ? (row.finishedAt ?? e.at) : row.finishedAt,
        });
        return next;
      });
      return data;
    },
    [refetch],
  );
  useSubscription({ query: MyScansDocument, variables: { since } }, onEvent);

  const add = (scan: Row) => setRows((prev) => new Map([[scan.id, scan], ...prev]));
  const sorted = [...rows.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { rows: sorted, total: query.data?.scans.totalCount ?? null, add, loading: query.fetching && !query.data, error: query.error };
}

function useUploadLimits(): UploadLimitsInfo | null {
  const [res] = useQuery({ query: UploadLimitsDocument });
  return res.data?.uploadLimits ?? null;
}

function SessionWork(props: { sessionId: string; epoch: number }) {
  const [filter, setFilter] = useState<ListFilter>({ allSessions: false, status: "", kind: "" });
  const scans = useLiveScans(props.sessionId, filter, props.epoch);
  const limits = useUploadLimits();
  const [selected, setSelected] = useState<string | null>(null);
  const [conns, refetchConns] = useQuery({ query: DatabaseConnectionsDocument, variables: { sessionId: props.sessionId } });
  const connections = conns.data?.databaseConnections ?? [];
  const selectedRow = scans.rows.find((r) => r.id === selected) ?? null;
  return (
    <>
      <div className="two">
        <DocumentDrop sessionId={props.sessionId} limits={limits} onStarted={scans.add} />
        <DatabaseTargets
          sessionId={props.sessionId}
          connections={connections}
          error={describeError(conns.error)}
          refetch={() => refetchConns({ requestPolicy: "network-only" })}
          onStarted={scans.add}
        />
      </div>
      <ScanList
        rows={scans.rows}
        total={scans.total}
        loading={scans.loading}
        error={describeError(scans.error)}
        filter={filter}
        onFilter={setFilter}
        connections={connections}
        selected={selected}
        onSelect={setSelected}
      />
      {selectedRow ? <FindingsPanel key={selectedRow.id} scan={selectedRow} onClose={() => setSelected(null)} /> : null}
    </>
  );
}

type UploadState =
  | { phase: "idle" }
  | { phase: "reading"; done: number; total: number }
  | { phase: "uploading"; sent: number; total: number }
  | { phase: "starting" };

function DocumentDrop(props: { sessionId: string; limits: UploadLimitsInfo | null; onStarted: (scan: Row) => void }) {
  const token = useToken();
  const [files, setFiles] = useState<File[]>([]);
  const [kind, setKind] = useState<ScanAs>("DOCUMENT");
  const [over, setOver] = useState(false);
  const [state, setState] = useState<UploadState>({ phase: "idle" });
  const [notes, setNotes] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const picked = useRef<File[]>([]);
  const inputRef = useRef<HTMLInputElement>(null);
  const busy = state.phase !== "idle";

  const choose = (all: File[], as: ScanAs) => {
    const checked = checkFiles(all, props.limits, as);
    setFiles(checked.accepted);
    setNotes(checked.problems);
  };
  const take = (list: FileList | null) => {
    const all = list ? [...list] : [];
    picked.current = all;
    setProblem(null);
    const code = all.length > 0 && all.every((f) => /\.(js|jsx|mjs|cjs|ts|tsx|py|rb|go|java|kt|cs|php|c|h|cpp|hpp|rs|swift|scala|sh|tf|gradle)$/i.test(f.name));
    const as: ScanAs = code ? "CODE" : kind;
    if (code) setKind("CODE");
    choose(all, as);
  };
  // The limits may arrive after the files were chosen: check again then.
  useEffect(() => {
    if (picked.current.length) choose(picked.current, kind);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.limits, kind]);
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    take(e.dataTransfer.files);
  };
  const start = async (e: FormEvent) => {
    e.preventDefault();
    if (files.length === 0 || busy) return;
    setProblem(null);
    const names = files.map((f) => f.name);
    try {
      setState({ phase: "reading", done: 0, total: files.length });
      const docs = [];
      for (const f of files) {
        docs.push(await readForUpload(f));
        setState({ phase: "reading", done: docs.length, total: files.length });
      }
      const mutation = kind === "CODE" ? START_CODE : START_DOCUMENTS;
      const input = kind === "CODE" ? { sessionId: props.sessionId, files: docs } : { sessionId: props.sessionId, documents: docs };
      setState({ phase: "uploading", sent: 0, total: 0 });
      const res = await postGraphQL(graphqlUrls().http, bearer(token), { query: mutation, variables: { input } }, (sent, total) =>
        setState(sent >= total && total > 0 ? { phase: "starting" } : { phase: "uploading", sent, total }),
      );
      const errors = res.body?.errors;
      const scan = (res.body?.data?.startCodeScan ?? res.body?.data?.startDocumentScan) as Row | undefined;
      if (scan) {
        props.onStarted(scan);
        setFiles([]);
        setNotes([]);
        picked.current = [];
        if (inputRef.current) inputRef.current.value = "";
      } else {
        const networkError = Object.assign(new Error(res.status === 413 ? "larger than the limit" : `HTTP ${res.status}`), { status: res.status });
        setProblem(describeError({ graphQLErrors: errors ?? [], networkError: errors?.length ? undefined : networkError, message: "" }, props.limits, names));
      }
    } catch {
      setProblem("Cannot reach the server. Check your connection and try again.");
    } finally {
      setState({ phase: "idle" });
    }
  };
  const total = files.reduce((n, f) => n + f.size, 0);
  const limits = props.limits;
  return (
    <section className="card" aria-labelledby="drop-title">
      <h2 id="drop-title">Scan documents or code</h2>
      <form onSubmit={start}>
        <div
          className={`drop${over ? " over" : ""}`}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={onDrop}
        >
          <p>Drop files here, or</p>
          <label htmlFor="files" className="button-like">
            Choose files
          </label>
          <input ref={inputRef} id="files" type="file" multiple className="visually-hidden-input" onChange={(e) => take(e.target.files)} disabled={busy} />
          <p className="hint" aria-live="polite" data-testid="picked">
            {files.length === 0
              ? notes.length > 0
                ? "No files to scan."
                : "No files chosen."
              : `${files.length} chosen (${formatBytes(total)}): ${files.map((f) => f.name).join(", ")}`}
          </p>
          <p className="hint limits" data-testid="limits">
            {supportedTypesText(limits, kind)}{" "}
            {limits
              ? `Up to ${formatBytes(limits.maxDocumentBytes)} per file, ${formatBytes(limits.maxScanBytes)} and ${limits.maxDocumentsPerScan} files per scan.`
              : ""}
          </p>
        </div>
        {notes.length > 0 ? (
          <ul className="notes" aria-live="polite" data-testid="upload-notes">
            {notes.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        ) : null}
        <fieldset className="row">
          <legend>Scan as</legend>
          <label>
            <input type="radio" name="kind" value="DOCUMENT" checked={kind === "DOCUMENT"} onChange={() => setKind("DOCUMENT")} /> Documents
          </label>
          <label>
            <input type="radio" name="kind" value="CODE" checked={kind === "CODE"} onChange={() => setKind("CODE")} /> Code files (also secrets)
          </label>
        </fieldset>
        {state.phase !== "idle" ? <UploadProgress state={state} /> : null}
        {problem ? (
          <p role="alert" className="error" data-testid="upload-problem">
            {problem}
          </p>
        ) : null}
        <button type="submit" disabled={files.length === 0 || busy}>
          {busy ? "Uploading…" : "Start scan"}
        </button>
      </form>
    </section>
  );
}

function UploadProgress(props: { state: UploadState }) {
  const s = props.state;
  let value = 0;
  let text = "";
  if (s.phase === "reading") {
    value = s.total ? (s.done / s.total) * 0.1 : 0;
    text = `Reading files: ${s.done} of ${s.total}`;
  } else if (s.phase === "uploading") {
    value = 0.1 + (s.total ? (s.sent / s.total) * 0.9 : 0);
    text = s.total ? `Uploading: ${formatBytes(s.sent)} of ${formatBytes(s.total)}` : "Uploading…";
  } else if (s.phase === "starting") {
    value = 1;
    text = "Uploaded; starting the scan…";
  }
  const pct = Math.floor(value * 100);
  return (
    <div className="upload" data-testid="upload-progress" data-phase={s.phase}>
      <div className="bar" role="progressbar" aria-label="Upload" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={text}>
        <div className="fill" style={{ width: `${pct}%` }} />
      </div>
      <p className="hint" aria-live="polite">
        {text}
      </p>
    </div>
  );
}

const SCAN_ROW_FIELDS = `id kind name status progress stage itemsProcessed itemsTotal queuePosition findingsCount riskLevel error { code message } createdAt startedAt finishedAt`;
const START_DOCUMENTS = `mutation StartDocumentScanUpload($input: DocumentScanInput!) { startDocumentScan(input: $input) { ${SCAN_ROW_FIELDS} } }`;
const START_CODE = `mutation StartCodeScanUpload($input: CodeScanInput!) { startCodeScan(input: $input) { ${SCAN_ROW_FIELDS} } }`;

const facts = (c: Connection | undefined | null): ConnectionFacts | null => (c ? { host: c.host, port: c.port, database: c.database, user: c.user } : null);

function DatabaseTargets(props: { sessionId: string; connections: Connection[]; error: string | null; refetch: () => void; onStarted: (scan: Row) => void }) {
  const [, save] = useMutation(SaveDatabaseConnectionDocument);
  const [, remove] = useMutation(DeleteDatabaseConnectionDocument);
  const [, start] = useMutation(StartDatabaseScanDocument);
  const [, test] = useMutation(TestDatabaseConnectionDocument);
  const [, update] = useMutation(UpdateDatabaseConnectionDocument);
  const [problem, setProblem] = useState<string | null>(null);
  const [editing, setEditing] = useState<Connection | null>(null);
  const [formOpen, setFormOpen] = useState(false);
  const [tests, setTests] = useState<Record<string, { ok: boolean; text: string } | "testing">>({});

  const submit = async (e: FormEvent<HTMLFormElement>, engine: DatabaseEngine) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const fields = {
      name: String(f.get("name")),
      engine,
      host: String(f.get("host")),
      port: Number(f.get("port")),
      database: String(f.get("database")),
      user: String(f.get("user")),
      ssl: f.get("ssl") === "on",
    };
    const password = String(f.get("password") ?? "");
    // Editing changes the connection in place; an empty password field keeps the stored one.
    const res = editing
      ? await update({ id: editing.id, changes: { ...fields, password: password || null } })
      : await save({ input: { sessionId: props.sessionId, ...fields, password } });
    setProblem(describeError(res.error));
    if (res.data) {
      if (editing) setTests(({ [editing.id]: _old, ...rest }) => rest);
      form.reset();
      setEditing(null);
      setFormOpen(false);
      props.refetch();
    }
  };
  const scan = async (id: string) => {
    const res = await start({ input: { sessionId: props.sessionId, connectionId: id } });
    setProblem(describeError(res.error));
    if (res.data) props.onStarted(res.data.startDatabaseScan);
  };
  const check = async (c: Connection) => {
    setTests((t) => ({ ...t, [c.id]: "testing" }));
    const res = await test({ id: c.id });
    const r = res.data?.testDatabaseConnection;
    const result = r
      ? r.ok
        ? { ok: true, text: `Connected${r.serverVersion ? ` (${r.serverVersion.slice(0, 60)})` : ""}.` }
        : { ok: false, text: connectionAdvice(r.code, r.message, facts(c)) }
      : { ok: false, text: describeError(res.error) ?? "The test did not answer." };
    setTests((t) => ({ ...t, [c.id]: result }));
  };
  const del = async (id: string) => {
    const res = await remove({ id });
    setProblem(describeError(res.error));
    props.refetch();
  };
  const edit = (c: Connection) => {
    setEditing(c);
    setFormOpen(true);
  };
  const list = props.connections;
  return (
    <section className="card" aria-labelledby="db-title">
      <h2 id="db-title">Scan a database</h2>
      {problem || props.error ? (
        <p role="alert" className="error">
          {problem ?? props.error}
        </p>
      ) : null}
      {list.length > 0 ? (
        <ul className="conns" aria-label="Saved connections">
          {list.map((c) => {
            const t = tests[c.id];
            return (
              <li key={c.id} data-testid="connection" data-connection-id={c.id}>
                <span>
                  <strong>{c.name}</strong> {c.engine === "MYSQL" ? "MySQL" : "PostgreSQL"} {c.user}@{c.host}:{c.port}/{c.database}
                </span>
                <span className="actions">
                  <button type="button" onClick={() => scan(c.id)}>
                    Scan <span className="visually-hidden">{c.name}</span>
                  </button>
                  <button type="button" className="secondary" onClick={() => check(c)} disabled={t === "testing"}>
                    Test connection <span className="visually-hidden">{c.name}</span>
                  </button>
                  <button type="button" className="secondary" onClick={() => edit(c)}>
                    Edit <span className="visually-hidden">{c.name}</span>
                  </button>
                  <button type="button" className="secondary" onClick={() => del(c.id)}>
                    Delete <span className="visually-hidden">{c.name}</span>
                  </button>
                </span>
                {t ? (
                  <p className={t === "testing" ? "hint" : t.ok ? "ok" : "error"} role="status" data-testid="connection-test">
                    {t === "testing" ? "Testing…" : t.text}
                  </p>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : (
        <p className="hint">No saved connections in this session.</p>
      )}
      <details open={formOpen} onToggle={(e) => setFormOpen((e.currentTarget as HTMLDetailsElement).open)}>
        <summary>{editing ? `Edit "${editing.name}"` : "Add a connection"}</summary>
        <ConnectionForm key={editing?.id ?? "new"} editing={editing} onSubmit={submit} onCancel={() => (setEditing(null), setFormOpen(false))} />
      </details>
    </section>
  );
}

function ConnectionForm(props: { editing: Connection | null; onSubmit: (e: FormEvent<HTMLFormElement>, engine: DatabaseEngine) => void; onCancel: () => void }) {
  const c = props.editing;
  const [engine, setEngine] = useState<DatabaseEngine>(c?.engine ?? "POSTGRESQL");
  return (
    <>
      <form className="grid-form" onSubmit={(e) => props.onSubmit(e, engine)} aria-label={c ? `Edit the connection ${c.name}` : "Save a database connection"}>
        <label htmlFor="db-name">Name</label>
        <input id="db-name" name="name" required defaultValue={c?.name} maxLength={100} />
        <label htmlFor="db-engine">Engine</label>
        <select id="db-engine" value={engine} onChange={(e) => setEngine(e.target.value as DatabaseEngine)}>
          <option value="POSTGRESQL">PostgreSQL</option>
          <option value="MYSQL">MySQL</option>
        </select>
        <label htmlFor="db-host">Host</label>
        <input id="db-host" name="host" required defaultValue={c?.host ?? "localhost"} />
        <label htmlFor="db-port">Port</label>
        <input id="db-port" name="port" type="number" min={1} max={65535} required defaultValue={c?.port ?? (engine === "MYSQL" ? 3306 : 5432)} key={engine} />
        <label htmlFor="db-database">Database</label>
        <input id="db-database" name="database" required defaultValue={c?.database} />
        <label htmlFor="db-user">User</label>
        <input id="db-user" name="user" required autoComplete="off" defaultValue={c?.user} />
        <label htmlFor="db-password">Password</label>
        <input id="db-password" name="password" type="password" autoComplete="new-password" placeholder={c ? "leave empty to keep it" : undefined} />
        <label htmlFor="db-ssl">Use TLS</label>
        <input id="db-ssl" name="ssl" type="checkbox" defaultChecked={c?.ssl} />
        <span />
        <span className="actions">
          <button type="submit">{c ? "Save changes" : "Save connection"}</button>
          {c ? (
            <button type="button" className="secondary" onClick={props.onCancel}>
              Cancel editing
            </button>
          ) : null}
        </span>
      </form>
      <p className="hint">The password is encrypted on the server and never shown again{c ? "; leave it empty to keep the stored one" : ""}.</p>
    </>
  );
}

const KIND_LABEL: Record<string, string> = { DOCUMENT: "Documents", CODE: "Code", DATABASE: "Database" };

/**
 * The fraction to draw and print. Within one document the server's `progress` moves per
 * document, while `stage` says "scanning big2.txt (28/31)": count the chunks done as a part of
 * the document in hand, so one large file does not sit at 0%. Never below the server's figure,
 * never 100% before the scan succeeded.
 */
export function shownProgress(r: Pick<Row, "status" | "progress" | "stage" | "itemsProcessed" | "itemsTotal">): number {
  if (r.status === "SUCCEEDED") return 1;
  let p = r.progress;
  const m = r.stage ? /\((\d+)\/(\d+)\)\s*$/.exec(r.stage) : null;
  if (m && r.itemsTotal && Number(m[2]) > 0) {
    p = Math.max(p, (r.itemsProcessed + Math.min(1, Number(m[1]) / Number(m[2]))) / r.itemsTotal);
  }
  return Math.min(0.99, Math.max(0, p));
}

function timeText(iso: string): string {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function durationText(fromIso: string, toIso: string | null): string {
  const s = Math.max(0, Math.round(((toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function ScanList(props: {
  rows: Row[];
  total: number | null;
  loading: boolean;
  error: string | null;
  filter: ListFilter;
  onFilter: (f: ListFilter) => void;
  connections: Connection[];
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const [, cancel] = useMutation(CancelScanDocument);
  const [announce, setAnnounce] = useState("");
  const last = useRef(new Map<string, string>());
  const [, tick] = useState(0);
  const anyActive = props.rows.some((r) => !TERMINAL.has(r.status));
  // Running durations move on their own.
  useEffect(() => {
    if (!anyActive) return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [anyActive]);
  // Screen readers hear milestones and endings, not every percent.
  useEffect(() => {
    for (const r of props.rows) {
      const bucket = TERMINAL.has(r.status) ? r.status : `${r.status}:${Math.floor(shownProgress(r) * 4)}`;
      const before = last.current.get(r.id);
      last.current.set(r.id, bucket);
      if (before === undefined || before === bucket) continue;
      const label = r.name ?? `${KIND_LABEL[r.kind]} scan`;
      setAnnounce(
        TERMINAL.has(r.status)
          ? `${label} ${r.status.toLowerCase()}${r.status === "SUCCEEDED" ? `: ${r.findingsCount} findings` : ""}.`
          : `${label}: ${Math.floor(shownProgress(r) * 100)}% done.`,
      );
    }
  }, [props.rows]);
  const f = props.filter;
  const filtered = f.status !== "" || f.kind !== "" || f.allSessions;
  return (
    <section className="card" aria-labelledby="scans-title">
      <div className="row spread">
        <h2 id="scans-title">Scans</h2>
        <div className="row filters" role="group" aria-label="Filter scans">
          <label htmlFor="scan-scope">Show</label>
          <select id="scan-scope" value={f.allSessions ? "all" : "session"} onChange={(e) => props.onFilter({ ...f, allSessions: e.target.value === "all" })}>
            <option value="session">This session</option>
            <option value="all">All my sessions</option>
          </select>
          <label htmlFor="scan-status">Status</label>
          <select id="scan-status" value={f.status} onChange={(e) => props.onFilter({ ...f, status: e.target.value as StatusFilter })}>
            <option value="">Any status</option>
            <option value="ACTIVE">Queued or running</option>
            <option value="SUCCEEDED">Succeeded</option>
            <option value="FAILED">Failed</option>
            <option value="CANCELLED">Cancelled</option>
          </select>
          <label htmlFor="scan-kind">Kind</label>
          <select id="scan-kind" value={f.kind} onChange={(e) => props.onFilter({ ...f, kind: e.target.value as KindFilter })}>
            <option value="">Any kind</option>
            <option value="DOCUMENT">Documents</option>
            <option value="CODE">Code</option>
            <option value="DATABASE">Database</option>
          </select>
        </div>
      </div>
      <div className="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
        {announce}
      </div>
      {props.error ? (
        <p role="alert" className="error">
          {props.error}
        </p>
      ) : null}
      {props.loading ? <p>Loading scans…</p> : null}
      {!props.loading && props.rows.length === 0 ? <p className="hint">{filtered ? "No scans match the filters." : "No scans in this session yet."}</p> : null}
      <ul className="scans">
        {props.rows.map((r) => {
          const shown = shownProgress(r);
          const pct = Math.floor(shown * 100);
          const label = r.name ?? `${KIND_LABEL[r.kind]} scan`;
          const active = !TERMINAL.has(r.status);
          const conn = r.kind === "DATABASE" ? props.connections.find((c) => c.name === r.name) : undefined;
          const began = r.startedAt ?? r.createdAt;
          return (
            <li key={r.id} className={`scan status-${r.status.toLowerCase()}`} data-scan-id={r.id} data-status={r.status}>
              <div className="scan-head">
                <strong data-testid="scan-name">{label}</strong>
                <span className="badge">{KIND_LABEL[r.kind]}</span>
                <span className={`badge st-${r.status.toLowerCase()}`} data-testid="scan-status">
                  {r.status}
                  {r.status === "QUEUED" && r.queuePosition ? ` #${r.queuePosition}` : ""}
                </span>
                {r.riskLevel ? <span className={`badge sev-${r.riskLevel.toLowerCase()}`}>risk {r.riskLevel}</span> : null}
                <span className="when" data-testid="scan-when">
                  <time dateTime={r.createdAt}>{timeText(r.createdAt)}</time>
                  {r.status === "QUEUED" ? ` · waiting ${durationText(r.createdAt, null)}` : active ? ` · running ${durationText(began, null)}` : ` · took ${durationText(began, r.finishedAt)}`}
                </span>
              </div>
              <div
                className="bar"
                role="progressbar"
                aria-label={`${label} progress`}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={pct}
                aria-valuetext={`${pct}%${r.stage ? `, ${r.stage}` : ""}`}
              >
                <div className="fill" data-testid="scan-fill" style={{ width: `${pct}%` }} />
              </div>
              <div className="scan-foot">
                <span data-testid="scan-percent">{pct}%</span>
                <span>{r.stage ?? ""}</span>
                <span>
                  {r.itemsProcessed}
                  {r.itemsTotal != null ? ` / ${r.itemsTotal}` : ""} items · <span data-testid="scan-findings">{r.findingsCount}</span> findings
                </span>
                <span className="actions">
                  {active ? (
                    <button type="button" className="secondary" onClick={() => cancel({ id: r.id })}>
                      Cancel <span className="visually-hidden">{label}</span>
                    </button>
                  ) : null}
                  <button type="button" onClick={() => props.onSelect(r.id)} aria-pressed={props.selected === r.id} disabled={r.findingsCount === 0 && !active}>
                    Findings <span className="visually-hidden">of {label}</span>
                  </button>
                  {!active ? <ReportLinks scanId={r.id} label={label} /> : null}
                </span>
              </div>
              {r.error ? (
                <p className="error" data-testid="scan-error">
                  {r.kind === "DATABASE" ? connectionAdvice(r.error.code, r.error.message, facts(conn)) : r.error.message}
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
      {props.total != null && props.total > props.rows.length ? <p className="hint">Showing the newest {props.rows.length} of {props.total}.</p> : null}
    </section>
  );
}

/** CSV download and the printable report, fetched with the token (the API's own routes). */
function ReportLinks(props: { scanId: string; label: string }) {
  const token = useToken();
  const [problem, setProblem] = useState<string | null>(null);
  const get = async (format: "csv" | "html") => {
    setProblem(null);
    // Opened now, while the click still counts as the person's: a window opened after the
    // fetch would be blocked as a pop-up.
    const win = format === "html" ? window.open("", "_blank") : null;
    try {
      const res = await fetch(`/scans/${encodeURIComponent(props.scanId)}/report.${format}`, { headers: { authorization: bearer(token) ?? "" } });
      if (!res.ok) throw new Error(res.status === 404 ? "This scan is gone." : `The report failed (HTTP ${res.status}).`);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      if (format === "html" && win) {
        win.location.href = url;
      } else {
        const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? `findings.${format}`;
        const a = document.createElement("a");
        a.href = url;
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
      }
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      win?.close();
      setProblem(err instanceof Error ? err.message : "The report failed.");
    }
  };
  return (
    <>
      <button type="button" className="secondary" onClick={() => get("csv")}>
        CSV <span className="visually-hidden">of {props.label}</span>
      </button>
      <button type="button" className="secondary" onClick={() => get("html")}>
        Report <span className="visually-hidden">of {props.label}</span>
      </button>
      {problem ? (
        <span role="alert" className="error">
          {problem}
        </span>
      ) : null}
    </>
  );
}
