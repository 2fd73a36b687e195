import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type DocumentNode } from "graphql";
import WebSocket from "ws";

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> & { code?: string } }>;
}

/** POSTs one operation over real HTTP, typed by a generated document (as an integrator would). */
export async function request<TData, TVars extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<TData, TVars> | DocumentNode | string,
  variables?: TVars,
  token?: string,
): Promise<GraphQLResponse<TData>> {
  const query = typeof document === "string" ? document : print(document);
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GraphQLResponse<TData>, "status">;
  return { status: res.status, ...body };
}

/** First error code of a response, for compact assertions. */
export const codeOf = (r: GraphQLResponse<unknown>): string | undefined => r.errors?.[0]?.extensions?.code as string | undefined;

type Message = { type: string; id?: string; payload?: unknown };

/**
 * A raw graphql-transport-ws client that queues every message (graphql-ws's own test style):
 * tests assert exact message order and close codes instead of trusting a client library.
 */
export class TestWsClient {
  private readonly queue: Message[] = [];
  private waiters: Array<() => void> = [];
  closeEvent: { code: number; reason: string } | null = null;
  private closedPromise: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.queue.push(JSON.parse(String(data)) as Message);
      this.wake();
    });
    this.closedPromise = new Promise((resolve) =>
      socket.on("close", (code, reason) => {
        this.closeEvent = { code, reason: String(reason) };
        this.wake();
        resolve(this.closeEvent);
      }),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async open(wsUrl: string): Promise<TestWsClient> {
    const socket = new WebSocket(wsUrl, "graphql-transport-ws");
    const client = new TestWsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return client;
  }

  /** Opens, sends connection_init with the token and waits for connection_ack. */
  static async connect(wsUrl: string, token?: string | null): Promise<TestWsClient> {
    const client = await TestWsClient.open(wsUrl);
    client.send({ type: "connection_init", payload: token ? { authorization: `Bearer ${token}` } : {} });
    const ack = await client.waitForMessage();
    if (ack.type !== "connection_ack") throw new Error(`expected connection_ack, got ${JSON.stringify(ack)}`);
    return client;
  }

  send(message: Message): void {
    this.socket.send(JSON.stringify(message));
  }

  subscribe(id: string, document: DocumentNode | string, variables?: Record<string, unknown>): void {
    this.send({ type: "subscribe", id, payload: { query: typeof document === "string" ? document : print(document), variables } });
  }

  async waitForMessage(timeoutMs = 5_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closeEvent) throw new Error(`socket closed (${this.closeEvent.code} ${this.closeEvent.reason}) while waiting for a message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.queue.shift()!;
  }

  async waitForClose(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.closedPromise,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out waiting for close")), timeoutMs)),
    ]);
  }

  /** Messages received and not yet consumed. */
  get pending(): number {
    return this.queue.length;
  }

  close(): void {
    this.socket.close(1000);
  }
}
