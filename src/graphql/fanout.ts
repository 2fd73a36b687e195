import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  createSourceEventStream,
  execute,
  getNamedType,
  getNullableType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
} from "graphql";
import { isPushSource, PUSH, type PushControl, type PushSource, type PushTarget } from "../shared/push-source.js";

/**
 * Subscription fan-out close to the wire (issue 11). graphql-js executes the selection set once
 * per event per subscriber; for the scan feeds the result depends only on the event, the
 * document and the variables, never on who listens. So:
 * - an event's result is computed once per distinct (document, operation, variables) and shared
 *   by every subscriber of that operation (a WeakMap on the event object: the in-memory and Redis
 *   pub/subs hand every listener the same object), when two or more subscriptions run it;
 * - for plain selections over plain event types (no directives, no arguments, no lists) the
 *   result is built by a projector compiled once per document, instead of `execute` with a
 *   resolver call per field; anything else falls back to `execute`.
 * Which root fields and types qualify is declared by the caller: only fields whose resolver
 * returns the event unchanged, over types whose fields are plain properties.
 *
 * Serialization close to the wire: when the transport puts a FanoutSink on the execution args
 * (http/ws.ts does), a result without errors is serialized once per event per distinct operation
 * (shared like the result) and handed to the sink as JSON, which splices the subscription id into
 * the frame and writes it; the iterator then waits for the write before it pulls the next event
 * (backpressure as before) and yields nothing to graphql-ws for these deliveries. Results with
 * errors, and transports without a sink, are yielded as usual (the transport masks and sends).
 */
export interface FanoutOptions {
  /** Subscription root fields whose resolver returns the event itself (e.g. `myScans`). */
  shareableRoots: ReadonlySet<string>;
  /** Object types whose fields are plain properties of the value (no field resolvers). */
  plainTypes: ReadonlySet<string>;
}

/** Where ws.ts puts the per-subscription sink on the execution args it returns from onSubscribe. */
export const FANOUT_SINK: unique symbol = Symbol("dataguardian.fanout.sink");

export interface FanoutSink {
  /**
   * Writes one `next` message whose payload is this JSON (an ExecutionResult without errors) for
   * the subscription this iterator serves, and calls `written` once it is written (with the
   * error if the write failed): the next event goes only then (backpressure). Returns false,
   * without calling `written`, when it was not sent because the iterator is no longer the
   * transport's registered operation or the socket is not open (the event is dropped, as the
   * transport would).
   */
  send(iterator: object, payloadJson: string, written: (err?: Error | null) => void): boolean;
}

/** An event's result for one operation, and its JSON once known (null: has errors, not sent as JSON). */
interface Delivery {
  result: ExecutionResult | Promise<ExecutionResult>;
  json: string | null | undefined;
}

type Projector = (event: Record<string, unknown>) => Record<string, unknown> | null;

interface Plan {
  key: string;
  shareable: boolean;
  rootKey: string;
  project: Projector | null;
}

export function createFanoutSubscribe(schema: GraphQLSchema, options: FanoutOptions) {
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;
  const plans = new WeakMap<DocumentNode, Map<string, { rootKey: string; shareable: boolean; project: Projector | null }>>();
  /** event → (plan key → result and its JSON): one execution and one serialization per event per distinct operation. */
  const results = new WeakMap<object, Map<string, Delivery>>();
  /**
   * Live subscriptions per plan key. An operation only one subscriber runs (each client
   * following its own scan) skips the shared cache: nothing to share, and a WeakMap entry per
   * event is garbage-collector work for nothing.
   */
  const live = new Map<string, number>();

  const planFor = (args: ExecutionArgs, operation: OperationDefinitionNode): Plan => {
    let perDoc = plans.get(args.document);
    if (!perDoc) plans.set(args.document, (perDoc = new Map()));
    const opKey = args.operationName ?? "";
    let compiled = perDoc.get(opKey);
    if (!compiled) {
      compiled = compile(schema, args.document, operation, options);
      perDoc.set(opKey, compiled);
    }
    let docId = documentIds.get(args.document);
    if (docId === undefined) documentIds.set(args.document, (docId = nextDocumentId++));
    const vars = args.variableValues ? JSON.stringify(args.variableValues) : "";
    return { key: `${docId}\u0000${opKey}\u0000${vars}`, ...compiled };
  };

  const deliveryFor = (event: unknown, plan: Plan, args: ExecutionArgs): Delivery => {
    if (!plan.shareable || event === null || typeof event !== "object") return { result: execute({ ...args, rootValue: event }), json: undefined };
    if ((live.get(plan.key) ?? 0) < 2) return { result: project(event, plan, args), json: undefined };
    let perEvent = results.get(event);
    if (!perEvent) results.set(event, (perEvent = new Map()));
    const hit = perEvent.get(plan.key);
    if (hit) return hit;
    const delivery: Delivery = { result: project(event, plan, args), json: undefined };
    perEvent.set(plan.key, delivery);
    return delivery;
  };

  const project = (event: object, plan: Plan, args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult> => {
    if (plan.project) {
      const data = plan.project(event as Record<string, unknown>);
      if (data) return { data: { [plan.rootKey]: data } };
    }
    return execute({ ...args, rootValue: event });
  };

  return async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
    const operation = args.document.definitions.find(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (args.operationName == null || d.name?.value === args.operationName),
    )!;
    const plan = planFor(args, operation);
    live.set(plan.key, (live.get(plan.key) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (live.get(plan.key) ?? 1) - 1;
      if (left > 0) live.set(plan.key, left);
      else live.delete(plan.key);
    };
    const sink = (args as ExecutionArgs & { [FANOUT_SINK]?: FanoutSink })[FANOUT_SINK];
    return mapIterator(source as AsyncIterableIterator<unknown>, (event) => deliveryFor(event, plan, args), release, sink);
  };
}

/** The JSON of a delivery's result, computed once and kept on the (possibly shared) delivery. */
function jsonOf(delivery: Delivery, result: ExecutionResult): string | null {
  if (delivery.json === undefined) delivery.json = result.errors?.length ? null : JSON.stringify(result);
  return delivery.json;
}

/**
 * Maps an async iterator; `return`/`throw` reach the source (so the subscription's cleanup runs).
 * With a sink, results without errors are written through it here, and only the others are
 * yielded: `next()` then resolves when the source ends, fails, or yields such a result.
 * A source that offers push mode (shared/push-source.ts) is driven by callbacks instead of one
 * awaited `next()` per event: no promise per delivery.
 */
function mapIterator<T>(
  source: AsyncIterableIterator<T>,
  map: (value: T) => Delivery,
  onEnd: () => void,
  sink: FanoutSink | undefined,
): AsyncIterableIterator<ExecutionResult> {
  let ended = false;
  const end = () => {
    ended = true;
    onEnd();
  };
  const push = sink && isPushSource<T>(source) ? pushDriver(source, map, sink, () => iterator) : null;
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      if (push) {
        const r = await push.next();
        if (r.done) {
          end();
          await source.return?.(); // ended by a failed write: the source's cleanup runs (idempotent)
        }
        return r;
      }
      for (;;) {
        const r = await source.next();
        if (r.done) {
          end();
          return { value: undefined, done: true };
        }
        const delivery = map(r.value);
        const result = delivery.result instanceof Promise ? await delivery.result : delivery.result;
        if (!sink || ended) return { value: result, done: false };
        const json = jsonOf(delivery, result);
        if (json === null) return { value: result, done: false }; // errors: the transport masks them
        let written!: (err?: Error | null) => void;
        const sent = new Promise<void>((resolve, reject) => (written = (err) => (err ? reject(err) : resolve())));
        if (!sink.send(iterator, json, written)) continue; // no longer registered or socket closing: the source ends next
        try {
          await sent; // the next event is pulled once this one is written: coalescing happens upstream
        } catch (err) {
          await iterator.return!();
          throw err;
        }
      }
    },
    async return() {
      end();
      push?.stop();
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      end();
      push?.stop();
      if (source.throw) await source.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * Push mode behind `next()`: the source hands events over one at a time; each is written
 * through the sink and the source resumes from the write's callback (backpressure). `next()`
 * resolves only for what the transport must send itself (a result with errors, which it masks)
 * and at the end.
 */
function pushDriver<T>(source: PushSource<T>, map: (value: T) => Delivery, sink: FanoutSink, self: () => object) {
  let control: PushControl | null = null;
  let wake: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  /** A result the transport must send, waiting for its `next()`; the source resumes after. */
  let handOff: ExecutionResult | null = null;
  let done = false;

  const finish = () => {
    if (done) return;
    done = true;
    const w = wake;
    wake = null;
    w?.({ value: undefined, done: true });
  };
  const written = (err?: Error | null) => {
    if (err) {
      finish(); // the socket is failing: end quietly, the transport closes it
      return;
    }
    control?.resume();
  };
  const settle = (delivery: Delivery, result: ExecutionResult) => {
    if (done) return;
    const json = jsonOf(delivery, result);
    if (json === null) {
      // Errors: the transport masks and sends it; the source resumes at the following next().
      if (wake) {
        const w = wake;
        wake = null;
        w({ value: result, done: false });
      } else handOff = result;
      return;
    }
    // Not sent (completed by the client, or the socket is closing): the transport ends us next.
    if (!sink.send(self(), json, written)) return;
  };
  const target: PushTarget<T> = {
    deliver(event) {
      if (done) return;
      let delivery: Delivery;
      try {
        delivery = map(event);
      } catch {
        finish(); // execute reports field errors in its result; a throw here ends the subscription
        return;
      }
      if (delivery.result instanceof Promise) delivery.result.then((result) => settle(delivery, result), finish);
      else settle(delivery, delivery.result);
    },
    end: finish,
  };

  return {
    next(): Promise<IteratorResult<ExecutionResult>> {
      if (!control) control = source[PUSH](target);
      else if (handOff === null && !done) control.resume(); // the handed-off result went out
      if (handOff) {
        const value = handOff;
        handOff = null;
        return Promise.resolve({ value, done: false });
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (wake = resolve));
    },
    stop: finish,
  };
}

function compile(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  options: FanoutOptions,
): { rootKey: string; shareable: boolean; project: Projector | null } {
  const fragments = new Map<string, SelectionSetNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def.selectionSet);
  const rootFields = collect(operation.selectionSet, fragments);
  const root = rootFields?.length === 1 ? rootFields[0]! : null;
  const rootName = root?.name.value ?? "";
  const rootKey = root ? (root.alias?.value ?? rootName) : "";
  // Directives on the root (@include with a variable...) change what a subscriber gets: no sharing.
  const shareable = Boolean(root && options.shareableRoots.has(rootName) && !root.directives?.length);
  if (!shareable || !root?.selectionSet) return { rootKey, shareable, project: null };
  const subscriptionType = schema.getSubscriptionType();
  const field = subscriptionType?.getFields()[rootName];
  const type = field ? getNullableType(field.type) : null;
  const project = type && isObjectType(type) ? compileObject(type, root.selectionSet, fragments, options) : null;
  return { rootKey, shareable, project };
}

/** Fields of a selection set with fragments inlined; null when something needs `execute` (directives, duplicates). */
function collect(set: SelectionSetNode, fragments: Map<string, SelectionSetNode>, seen = new Set<string>(), out: FieldNode[] = []): FieldNode[] | null {
  for (const sel of set.selections) {
    if (sel.directives?.length) return null;
    if (sel.kind === Kind.FIELD) {
      const key = sel.alias?.value ?? sel.name.value;
      if (seen.has(key)) return null; // merged selections: leave them to graphql-js
      seen.add(key);
      out.push(sel);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      // Type conditions are checked per object type by conditionsMatch.
      if (!collect(sel.selectionSet, fragments, seen, out)) return null;
    } else {
      const fragment = fragments.get(sel.name.value);
      if (!fragment || !collect(fragment, fragments, seen, out)) return null;
    }
  }
  return out;
}

function compileObject(
  type: GraphQLObjectType,
  set: SelectionSetNode,
  fragments: Map<string, SelectionSetNode>,
  options: FanoutOptions,
): Projector | null {
  if (!options.plainTypes.has(type.name)) return null;
  if (!conditionsMatch(set, fragments, type.name)) return null;
  const fields = collect(set, fragments);
  if (!fields) return null;
  const steps: Array<(source: Record<string, unknown>, out: Record<string, unknown>) => boolean> = [];
  for (const node of fields) {
    const name = node.name.value;
    const key = node.alias?.value ?? name;
    if (node.arguments?.length) return null;
    if (name === "__typename") {
      steps.push((_s, out) => ((out[key] = type.name), true));
      continue;
    }
    const def = type.getFields()[name];
    if (!def || def.args.length > 0) return null;
    const nonNull = isNonNullType(def.type);
    const inner = getNullableType(def.type);
    if (isListType(inner)) return null;
    if (isLeafType(inner)) {
      const serialize = inner.serialize.bind(inner);
      steps.push((source, out) => {
        const value = source[name];
        if (value === null || value === undefined) {
          out[key] = null;
          return !nonNull;
        }
        out[key] = serialize(value);
        return true;
      });
      continue;
    }
    const named = getNamedType(def.type);
    if (!isObjectType(named) || !node.selectionSet) return null;
    const child = compileObject(named, node.selectionSet, fragments, options);
    if (!child) return null;
    steps.push((source, out) => {
      const value = source[name];
      if (value === null || value === undefined) {
        out[key] = null;
        return !nonNull;
      }
      const projected = child(value as Record<string, unknown>);
      out[key] = projected;
      return projected !== null;
    });
  }
  return (source) => {
    const out: Record<string, unknown> = {};
    try {
      for (const step of steps) if (!step(source, out)) return null; // a null in a non-null field: let graphql-js report it
    } catch {
      return null; // a value the scalar refuses: graphql-js reports it properly
    }
    return out;
  };
}

/** Every inline fragment's and spread's type condition names this type (else: execute). */
function conditionsMatch(set: SelectionSetNode, fragments: Map<string, SelectionSetNode>, typeName: string, depth = 0): boolean {
  if (depth > 20) return false;
  for (const sel of set.selections) {
    if (sel.kind === Kind.INLINE_FRAGMENT) {
      if (sel.typeCondition && sel.typeCondition.name.value !== typeName) return false;
      if (!conditionsMatch(sel.selectionSet, fragments, typeName, depth + 1)) return false;
    }
  }
  return true;
}
