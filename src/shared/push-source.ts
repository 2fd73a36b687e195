/**
 * A push-mode side door on an async iterator (issue 11: fan-out close to the wire).
 *
 * Pulling events one `await next()` at a time costs a promise, a closure and two resumptions
 * per event; for a subscription that is written straight to a socket this overhead was larger
 * than the delivery itself. A source that implements {@link PUSH} hands its events to a target
 * instead, one at a time: after each `deliver` it waits until the target calls `resume()`
 * (the socket took the frame), so backpressure and coalescing work exactly as with pulling.
 *
 * The iterator protocol still works on such a source; a consumer uses one or the other.
 */
export const PUSH: unique symbol = Symbol.for("dataguardian.push-source");

export interface PushTarget<T> {
  /** One event. The source sends no other until `resume()` is called. */
  deliver(event: T): void;
  /** The source ended (completed or returned): no more events, `resume` is a no-op. */
  end(): void;
}

export interface PushControl {
  /** The target can take the next event. */
  resume(): void;
}

export interface PushSource<T> {
  /** Switches the source to push mode; events already waiting are delivered first. */
  [PUSH](target: PushTarget<T>): PushControl;
}

export function isPushSource<T = unknown>(value: unknown): value is PushSource<T> {
  return typeof value === "object" && value !== null && typeof (value as Record<symbol, unknown>)[PUSH] === "function";
}
