import { useCallback, useEffect, useRef, useState, type DragEvent, type FormEvent } from "react";
import { useMutation, useQuery, useSubscription } from "urql";
import { describeError } from "./client";
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
  type DatabaseEngine,
  type ProgressEventFragment,
  type ScanRowFragment,
} from "./generated/graphql";
import { FindingsPanel } from "./FindingsPanel";

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

type Row = ScanRowFragment & { name?: string };

/** The scans of one session: started here, kept live by `myScans`, re-read after any reconnect. */
function useLiveScans(sessionId: string, epoch: number) {
  const [query, refetch] = useQuery({ query: ScansDocument, variables: { sessionId, first: 50 } });
  const [rows, setRows] = useState<Map<string, Row>>(new Map());
  const foreign = useRef(new Set<string>());

  useEffect(() => {
    if (epoch > 0) refetch({ requestPolicy: "network-only" });
  }, [epoch, refetch]);

  useEffect(() => {
    const nodes = query.data?.scans.edges.map((e) => e.node);
    if (!nodes) return;
    setRows((prev) => {
      const next = new Map<string, Row>();
      for (const n of nodes) next.set(n.id, { ...n, name: prev.get(n.id)?.name });
      return next;
    });
  }, [query.data]);

  const onEvent = useCallback(
    (_prev: unknown, data: { myScans: ProgressEventFragment }) => {
      const e = data.myScans;
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
          finishedAt: TERMINAL.has(e.status) ? e.at : row.finishedAt,
        });
        return next;
      });
      return data;
    },
    [refetch],
  );
  useSubscription({ query: MyScansDocument }, onEvent);

  const add = (scan: Row) => setRows((prev) => new Map([[scan.id, scan], ...prev]));
  const sorted = [...rows.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { rows: sorted, add, loading: query.fetching && !query.data, error: query.error };
}

function SessionWork(props: { sessionId: string; epoch: number }) {
  const scans = useLiveScans(props.sessionId, props.epoch);
  const [selected, setSelected] = useState<string | null>(null);
  const selectedRow = scans.rows.find((r) => r.id === selected) ?? null;
  return (
    <>
      <div className="two">
        <DocumentDrop sessionId={props.sessionId} onStarted={scans.add} />
        <DatabaseTargets sessionId={props.sessionId} onStarted={scans.add} />
      </div>
      <ScanList rows={scans.rows} loading={scans.loading} error={describeError(scans.error)} selected={selected} onSelect={setSelected} />
      {selectedRow ? <FindingsPanel key={selectedRow.id} scan={selectedRow} onClose={() => setSelected(null)} /> : null}
    </>
  );
}

const TEXT_EXT = /\.(txt|csv|tsv|json|md|markdown|html?|xml|log|ya?ml|ini|env|cfg|conf|sql|properties)$/i;
const CODE_EXT = /\.(js|jsx|mjs|cjs|ts|tsx|py|rb|go|java|kt|cs|php|c|h|cpp|hpp|rs|swift|scala|sh|bash|ps1|tf|env|ya?ml|json|properties|gradle|sql|ini|cfg|conf|xml)$/i;

async function readDocument(file: File): Promise<{ name: string; text?: string; base64?: string }> {
  const name = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
  if (file.type.startsWith("text/") || TEXT_EXT.test(file.name) || CODE_EXT.test(file.name)) return { name, text: await file.text() };
  // PDF, DOCX and the like travel as base64; the server decodes and extracts their text.
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { name, base64: btoa(binary) };
}

function DocumentDrop(props: { sessionId: string; onStarted: (scan: Row) => void }) {
  const [files, setFiles] = useState<File[]>([]);
  const [kind, setKind] = useState<"DOCUMENT" | "CODE">("DOCUMENT");
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const [, startDocs] = useMutation(StartDocumentScanDocument);
  const [, startCode] = useMutation(StartCodeScanDocument);

  const take = (list: FileList | null) => {
    const picked = list ? [...list] : [];
    setFiles(picked);
    if (picked.length > 0 && picked.every((f) => CODE_EXT.test(f.name) && !/\.(txt|csv|md|docx?|pdf)$/i.test(f.name))) setKind("CODE");
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    take(e.dataTransfer.files);
  };
  const start = async (e: FormEvent) => {
    e.preventDefault();
    if (files.length === 0) return;
    setBusy(true);
    setProblem(null);
    try {
      const docs = await Promise.all(files.map(readDocument));
      const res =
        kind === "CODE"
          ? await startCode({ input: { sessionId: props.sessionId, files: docs } })
          : await startDocs({ input: { sessionId: props.sessionId, documents: docs } });
      setProblem(describeError(res.error));
      const scan = res.data && ("startCodeScan" in res.data ? res.data.startCodeScan : res.data.startDocumentScan);
      if (scan) {
        props.onStarted({ ...scan, name: files.length === 1 ? files[0]!.name : `${files.length} files` });
        setFiles([]);
        if (inputRef.current) inputRef.current.value = "";
      }
    } finally {
      setBusy(false);
    }
  };
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
          <input ref={inputRef} id="files" type="file" multiple className="visually-hidden-input" onChange={(e) => take(e.target.files)} />
          <p className="hint" aria-live="polite" data-testid="picked">
            {files.length === 0 ? "No files chosen." : `${files.length} chosen: ${files.map((f) => f.name).join(", ")}`}
          </p>
        </div>
        <fieldset className="row">
          <legend>Scan as</legend>
          <label>
            <input type="radio" name="kind" value="DOCUMENT" checked={kind === "DOCUMENT"} onChange={() => setKind("DOCUMENT")} /> Documents
          </label>
          <label>
            <input type="radio" name="kind" value="CODE" checked={kind === "CODE"} onChange={() => setKind("CODE")} /> Code files (also secrets)
          </label>
        </fieldset>
        {problem ? (
          <p role="alert" className="error">
            {problem}
          </p>
        ) : null}
        <button type="submit" disabled={files.length === 0 || busy}>
          {busy ? "Starting…" : "Start scan"}
        </button>
      </form>
    </section>
  );
}

function DatabaseTargets(props: { sessionId: string; onStarted: (scan: Row) => void }) {
  const [conns, refetch] = useQuery({ query: DatabaseConnectionsDocument, variables: { sessionId: props.sessionId } });
  const [, save] = useMutation(SaveDatabaseConnectionDocument);
  const [, remove] = useMutation(DeleteDatabaseConnectionDocument);
  const [, start] = useMutation(StartDatabaseScanDocument);
  const [problem, setProblem] = useState<string | null>(null);
  const [engine, setEngine] = useState<DatabaseEngine>("POSTGRESQL");

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const res = await save({
      input: {
        sessionId: props.sessionId,
        name: String(f.get("name")),
        engine,
        host: String(f.get("host")),
        port: Number(f.get("port")),
        database: String(f.get("database")),
        user: String(f.get("user")),
        password: String(f.get("password")),
        ssl: f.get("ssl") === "on",
      },
    });
    setProblem(describeError(res.error));
    if (res.data) {
      form.reset();
      refetch({ requestPolicy: "network-only" });
    }
  };
  const scan = async (id: string, name: string) => {
    const res = await start({ input: { sessionId: props.sessionId, connectionId: id } });
    setProblem(describeError(res.error));
    if (res.data) props.onStarted({ ...res.data.startDatabaseScan, name });
  };
  const del = async (id: string) => {
    const res = await remove({ id });
    setProblem(describeError(res.error));
    refetch({ requestPolicy: "network-only" });
  };
  const list = conns.data?.databaseConnections ?? [];
  return (
    <section className="card" aria-labelledby="db-title">
      <h2 id="db-title">Scan a database</h2>
      {problem ? (
        <p role="alert" className="error">
          {problem}
        </p>
      ) : null}
      {list.length > 0 ? (
        <ul className="conns" aria-label="Saved connections">
          {list.map((c) => (
            <li key={c.id}>
              <span>
                <strong>{c.name}</strong> {c.engine === "MYSQL" ? "MySQL" : "PostgreSQL"} {c.user}@{c.host}:{c.port}/{c.database}
              </span>
              <span className="actions">
                <button type="button" onClick={() => scan(c.id, c.name)}>
                  Scan <span className="visually-hidden">{c.name}</span>
                </button>
                <button type="button" className="secondary" onClick={() => del(c.id)}>
                  Delete <span className="visually-hidden">{c.name}</span>
                </button>
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="hint">No saved connections in this session.</p>
      )}
      <details>
        <summary>Add a connection</summary>
        <form className="grid-form" onSubmit={submit} aria-label="Save a database connection">
          <label htmlFor="db-name">Name</label>
          <input id="db-name" name="name" required />
          <label htmlFor="db-engine">Engine</label>
          <select id="db-engine" value={engine} onChange={(e) => setEngine(e.target.value as DatabaseEngine)}>
            <option value="POSTGRESQL">PostgreSQL</option>
            <option value="MYSQL">MySQL</option>
          </select>
          <label htmlFor="db-host">Host</label>
          <input id="db-host" name="host" required defaultValue="localhost" />
          <label htmlFor="db-port">Port</label>
          <input id="db-port" name="port" type="number" min={1} max={65535} required defaultValue={engine === "MYSQL" ? 3306 : 5432} key={engine} />
          <label htmlFor="db-database">Database</label>
          <input id="db-database" name="database" required />
          <label htmlFor="db-user">User</label>
          <input id="db-user" name="user" required autoComplete="off" />
          <label htmlFor="db-password">Password</label>
          <input id="db-password" name="password" type="password" autoComplete="new-password" />
          <label htmlFor="db-ssl">Use TLS</label>
          <input id="db-ssl" name="ssl" type="checkbox" />
          <span />
          <button type="submit">Save connection</button>
        </form>
        <p className="hint">The password is encrypted on the server and never shown again.</p>
      </details>
    </section>
  );
}

const KIND_LABEL: Record<string, string> = { DOCUMENT: "Documents", CODE: "Code", DATABASE: "Database" };

function ScanList(props: { rows: Row[]; loading: boolean; error: string | null; selected: string | null; onSelect: (id: string) => void }) {
  const [, cancel] = useMutation(CancelScanDocument);
  const [announce, setAnnounce] = useState("");
  const last = useRef(new Map<string, string>());
  // Screen readers hear milestones and endings, not every percent.
  useEffect(() => {
    for (const r of props.rows) {
      const bucket = TERMINAL.has(r.status) ? r.status : `${r.status}:${Math.floor(r.progress * 4)}`;
      const before = last.current.get(r.id);
      last.current.set(r.id, bucket);
      if (before === undefined || before === bucket) continue;
      const label = r.name ?? KIND_LABEL[r.kind];
      setAnnounce(
        TERMINAL.has(r.status)
          ? `${label} scan ${r.status.toLowerCase()}${r.status === "SUCCEEDED" ? `: ${r.findingsCount} findings` : ""}.`
          : `${label} scan ${Math.round(r.progress * 100)}% done.`,
      );
    }
  }, [props.rows]);
  return (
    <section className="card" aria-labelledby="scans-title">
      <h2 id="scans-title">Scans</h2>
      <div className="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
        {announce}
      </div>
      {props.error ? (
        <p role="alert" className="error">
          {props.error}
        </p>
      ) : null}
      {props.loading ? <p>Loading scans…</p> : null}
      {!props.loading && props.rows.length === 0 ? <p className="hint">No scans in this session yet.</p> : null}
      <ul className="scans">
        {props.rows.map((r) => {
          const pct = Math.round(r.progress * 100);
          const label = r.name ?? `${KIND_LABEL[r.kind]} scan`;
          const active = !TERMINAL.has(r.status);
          return (
            <li key={r.id} className={`scan status-${r.status.toLowerCase()}`} data-scan-id={r.id} data-status={r.status}>
              <div className="scan-head">
                <strong>{label}</strong>
                <span className="badge">{KIND_LABEL[r.kind]}</span>
                <span className={`badge st-${r.status.toLowerCase()}`} data-testid="scan-status">
                  {r.status}
                  {r.status === "QUEUED" && r.queuePosition ? ` #${r.queuePosition}` : ""}
                </span>
                {r.riskLevel ? <span className={`badge sev-${r.riskLevel.toLowerCase()}`}>risk {r.riskLevel}</span> : null}
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
                <div className="fill" style={{ width: `${pct}%` }} />
              </div>
              <div className="scan-foot">
                <span data-testid="scan-percent">{pct}%</span>
                <span>{r.stage ?? ""}</span>
                <span>
                  {r.itemsProcessed}
                  {r.itemsTotal != null ? ` / ${r.itemsTotal}` : ""} items · {r.findingsCount} findings
                </span>
                {r.error ? <span className="error">{r.error.message}</span> : null}
                <span className="actions">
                  {active ? (
                    <button type="button" className="secondary" onClick={() => cancel({ id: r.id })}>
                      Cancel <span className="visually-hidden">{label}</span>
                    </button>
                  ) : null}
                  <button type="button" onClick={() => props.onSelect(r.id)} aria-pressed={props.selected === r.id} disabled={r.findingsCount === 0 && !active}>
                    Findings <span className="visually-hidden">of {label}</span>
                  </button>
                </span>
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
