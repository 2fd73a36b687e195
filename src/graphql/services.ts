import type { ActivityTracker } from "../modules/viewer/activity.service.js";
import type { UserRepo } from "../modules/viewer/user.repo.js";
import type { SessionService } from "../modules/sessions/session.service.js";
import type { ConnectionService } from "../modules/connections/connection.service.js";
import type { PaymentService } from "../modules/payments/payment.service.js";
import type { CapacityMonitor } from "../modules/capacity/capacity.service.js";
import type { ScanService } from "../modules/scans/scan.service.js";
import type { ScanFeed } from "../modules/scans/scan-feed.service.js";
import type { ScanPages } from "../modules/scans/scan-pages.service.js";
import type { PubSub } from "../platform/pubsub/pubsub.js";

/**
 * The services resolvers reach through the context. Built once in the composition root
 * (src/app.ts); resolvers stay thin and call these.
 */
export interface AppServices {
  readonly users: UserRepo;
  readonly activity: ActivityTracker;
  readonly sessions: SessionService;
  readonly connections: ConnectionService;
  readonly payments: PaymentService;
  /** The capacity monitor: reports, history and the scan admission veto (issue 6). */
  readonly capacity: CapacityMonitor;
  readonly scans: ScanService;
  /** The live feeds behind `myScans` and `scanProgress` (replay, batched first reads). */
  readonly scanFeed: ScanFeed;
  /** Pages under a list (`Scan.findings`, `Session.scans`), many parents per query. */
  readonly scanPages: ScanPages;
  /** For subscriptions: resolvers listen on topics built by `topics` (platform/pubsub). */
  readonly pubsub: PubSub;
}
