import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import ipaddr from "ipaddr.js";
import { withTimeout } from "../../shared/async.js";

/**
 * Which hosts a database scan may connect to (issue 12, point 1).
 *
 * A database scan connects from inside our network to a host a user typed in: without a
 * policy that is a server-side request forgery tool (cloud metadata, internal services, our
 * own database). The policy is checked on the *resolved* addresses, and the scanner connects
 * to an address returned by {@link checkTargetAllowed}, never to the name again, so a DNS
 * answer that changes between check and connect (rebinding) cannot route around it.
 *
 * Secure by default: only public unicast addresses, in every notation (IPv4-mapped and
 * -compatible IPv6, NAT64, 6to4 and Teredo are judged by the IPv4 address they carry;
 * decimal, hex and octal IPv4 shorthands are refused as syntax). Development may also allow
 * loopback ({@link HostPolicyOptions.allowLoopback}); `DATABASE_SCAN_ALLOWED_HOSTS` is the
 * operator's explicit allow-list. Cloud metadata addresses and the server's own database
 * are refused whatever the list says.
 */
export interface HostPolicy {
  /** `default`: public addresses (and loopback when allowed); `allowList`: only the listed entries. */
  readonly mode: "default" | "allowList";
  /** Lower-case hostnames (no trailing dot) allowed by name. */
  readonly hostnames: ReadonlySet<string>;
  /** Address ranges allowed; a bare IP in the list is a /32 or /128. */
  readonly cidrs: ReadonlyArray<readonly [ipaddr.IPv4 | ipaddr.IPv6, number]>;
  /** Loopback addresses allowed without listing them (development, so the quick start can scan a local database). */
  readonly allowLoopback: boolean;
  /** Databases never scanned, even on an allowed host: the server's own. */
  readonly protectedDatabases: ReadonlyArray<ProtectedDatabase>;
  /**
   * Every failure to reach a database answers after the full connect timeout, so that a
   * refused, an unreachable and a silent port take the same time (issue 12, point 2).
   */
  readonly equalizeFailures: boolean;
}

export interface HostPolicyOptions {
  /** @default false (production); true in development and test */
  allowLoopback?: boolean;
  /** @default [] */
  protectedDatabases?: ProtectedDatabase[];
  /** @default false; true in production */
  equalizeFailures?: boolean;
}

/** A database (host, port, name) that scans must never reach. */
export interface ProtectedDatabase {
  host: string;
  port: number;
  database: string;
}

/**
 * `reason` completes "<host> is …" for an IP address the user typed; `listable` says whether an
 * operator could allow it with DATABASE_SCAN_ALLOWED_HOSTS (metadata and our own database: never).
 *
 * A host *name* refused for what it resolved to is `byName`: its `reason` is {@link NAME_REFUSED}
 * whatever the address was (private, loopback, metadata, our own database, not listed), so the
 * answer is no oracle for our internal DNS; `detail` says what it resolved to, for the log only.
 */
export type HostCheckResult =
  | { ok: true; addresses: string[] }
  | {
      ok: false;
      reason: string;
      listable: boolean;
      /** The name did not resolve: a network failure, not a refusal. */
      unresolved?: true;
      /** A host name refused for its addresses: the user is told nothing more (see {@link NAME_REFUSED}). */
      byName?: true;
      /** What really happened, with the resolved address: for the server's log only, never for the user. */
      detail?: string;
    };
export type AddressVerdict = { ok: true } | { ok: false; reason: string; listable: boolean };

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

const VARIABLE = "DATABASE_SCAN_ALLOWED_HOSTS";

/**
 * The one reason given for every host name refused for its addresses. Saying "resolves to a
 * private address" (or loopback, link-local, metadata, our own database…) would let a user map
 * our internal DNS one name at a time; the operator reads the truth in the log (`detail`).
 */
export const NAME_REFUSED = "a host name that database scans may not reach";

/** Cloud metadata and platform endpoints: refused even when an allow-listed range covers them. */
const METADATA = new Set(
  [
    "169.254.169.254", // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
    "169.254.170.2", // AWS ECS task metadata
    "169.254.169.253", // AWS DNS
    "169.254.169.123", // AWS time
    "fd00:ec2::254", // AWS IMDS over IPv6
    "fd00:ec2::253",
    "100.100.100.200", // Alibaba Cloud
    "168.63.129.16", // Azure wire server (a public-looking address)
  ].map((a) => ipaddr.parse(a).toNormalizedString()),
);

/** Prefixes whose low 32 bits carry an IPv4 address that a connection reaches. */
const V6_NAT64 = ipaddr.IPv6.parseCIDR("64:ff9b::/96"); // RFC 6052 well-known prefix
const V6_NAT64_LOCAL = ipaddr.IPv6.parseCIDR("64:ff9b:1::/48"); // RFC 8215 local use
const V6_COMPATIBLE = ipaddr.IPv6.parseCIDR("::/96"); // deprecated IPv4-compatible
const V6_6TO4 = ipaddr.IPv6.parseCIDR("2002::/16");

/** Ranges refused even for a hostname the operator listed (only a listed CIDR opens them). */
const NEVER_BY_NAME = new Set(["linkLocal", "unspecified", "multicast", "broadcast"]);

const LABELS: Record<string, string> = {
  loopback: "a loopback address",
  private: "a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)",
  carrierGradeNat: "a shared (carrier-grade NAT, 100.64.0.0/10) address",
  linkLocal: "a link-local address",
  uniqueLocal: "a unique-local IPv6 address (fc00::/7)",
  unspecified: "an unspecified address",
  multicast: "a multicast address",
  broadcast: "a broadcast address",
  reserved: "a reserved or documentation address",
  teredo: "a Teredo tunnel address",
  localNat64: "a local-use NAT64 address",
};

/**
 * Parses `DATABASE_SCAN_ALLOWED_HOSTS`: a comma list of hostnames, IP addresses and CIDRs
 * (IPv4 or IPv6). Unset or blank means the default policy: public addresses only (plus
 * loopback when `options.allowLoopback`).
 *
 * @throws Error naming the variable and the bad entry, for the config loader to print.
 * @default unset: public unicast addresses only
 */
export function parseAllowedHosts(value: string | undefined, options: HostPolicyOptions = {}): HostPolicy {
  const common = {
    allowLoopback: options.allowLoopback ?? false,
    protectedDatabases: Object.freeze([...(options.protectedDatabases ?? [])]),
    equalizeFailures: options.equalizeFailures ?? false,
  };
  if (value === undefined || value.trim() === "") {
    return Object.freeze({ mode: "default", hostnames: new Set<string>(), cidrs: [], ...common });
  }
  const hostnames = new Set<string>();
  const cidrs: Array<readonly [Addr, number]> = [];
  for (const raw of value.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue; // tolerate "a, b," from hand-edited files
    if (entry.includes("/")) {
      const valid = entry.includes(":")
        ? ipaddr.IPv6.isValidCIDR(entry) && !entry.includes("%")
        : ipaddr.IPv4.isValidCIDRFourPartDecimal(entry); // not "10.0.0/8", whose meaning is a guess
      if (!valid) {
        throw new Error(`${VARIABLE}: "${entry}" is not a valid CIDR (like 10.0.0.0/8 or fd00::/8)`);
      }
      const [addr, bits] = ipaddr.parseCIDR(entry);
      // "::ffff:10.0.0.0/104" is written as v6 but connects over v4: keep it comparable.
      cidrs.push(normalizeCidr(addr, bits));
      continue;
    }
    const literal = stripBrackets(entry);
    if (isIP(literal) !== 0) {
      const addr = ipaddr.parse(literal);
      cidrs.push(normalizeCidr(addr, addr.kind() === "ipv4" ? 32 : 128));
      continue;
    }
    if (!isValidHostname(entry)) {
      throw new Error(`${VARIABLE}: "${entry}" is neither a hostname, an IP address nor a CIDR`);
    }
    hostnames.add(normalizeHostname(entry));
  }
  if (hostnames.size === 0 && cidrs.length === 0) {
    throw new Error(`${VARIABLE}: no hosts listed (unset it to allow public addresses only)`);
  }
  return Object.freeze({ mode: "allowList", hostnames, cidrs: Object.freeze(cidrs), ...common });
}

/**
 * The policy the server runs with: `DATABASE_SCAN_ALLOWED_HOSTS`, loopback outside
 * production, failures equalized in time in production, and the server's own database (`ownDatabaseUrl`: DATABASE_URL or the embedded
 * one) protected.
 */
export function hostPolicyFromConfig(
  config: { readonly DATABASE_SCAN_ALLOWED_HOSTS?: string | undefined; readonly isProduction: boolean },
  ownDatabaseUrl: string | undefined,
): HostPolicy {
  return parseAllowedHosts(config.DATABASE_SCAN_ALLOWED_HOSTS, {
    allowLoopback: !config.isProduction,
    equalizeFailures: config.isProduction,
    protectedDatabases: ownDatabaseUrl ? [protectedDatabaseFromUrl(ownDatabaseUrl)] : [],
  });
}

/** The database a PostgreSQL URL names: host, port (5432) and database (the user's name when absent, as libpq does). */
export function protectedDatabaseFromUrl(url: string): ProtectedDatabase {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || "postgres";
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || user;
  return { host: stripBrackets(u.hostname) || "localhost", port: Number(u.port || 5432), database };
}

/**
 * True when `host` is syntactically a hostname (RFC 1123 labels, at most 253 characters) or
 * an IP literal (dotted-quad IPv4, or IPv6, optionally in brackets, without a zone id).
 * Numeric shorthands that resolvers accept (`127.1`, `2130706433`, `0x7f.0.0.1`) are refused:
 * they are legal nowhere a user would type them on purpose, and hide what is being reached.
 */
export function isValidHostSyntax(host: string): boolean {
  if (typeof host !== "string" || host.length === 0 || host.length > 255 || host.includes("%")) return false;
  const literal = stripBrackets(host);
  if (literal !== host) return isIP(literal) === 6; // brackets only around IPv6
  if (isIP(host) !== 0) return true; // Node's isIP: four-part decimal v4, v6 without zone
  return isValidHostname(host);
}

/**
 * Resolves `host` (all addresses, before any socket opens) and checks every address against
 * the policy. On success returns the vetted addresses in resolver order: connect to one of
 * these, not to `host`, so that a second DNS answer cannot differ from the checked one.
 * One refused address refuses the host: an attacker controlling DNS could otherwise mix a
 * harmless and a forbidden answer.
 */
export async function checkHostAllowed(
  policy: HostPolicy,
  host: string,
  options: {
    /** Give up resolving after this long. @default 5000 */
    lookupTimeoutMs?: number;
    /** Resolves a name to all its addresses. @default the system resolver (`dns.lookup`, all, verbatim) */
    resolve?: (name: string) => Promise<string[]>;
  } = {},
): Promise<HostCheckResult> {
  if (!isValidHostSyntax(host)) return { ok: false, reason: "not a valid hostname or IP address", listable: false };
  const literal = stripBrackets(host);
  const name = normalizeHostname(literal);
  const listedByName = policy.mode === "allowList" && policy.hostnames.has(name);
  const isLiteral = isIP(literal) !== 0;
  // An allow list of names only can never allow an unlisted name: refused without a lookup, so
  // the answer says nothing of our DNS, not even whether the name exists.
  if (!isLiteral && policy.mode === "allowList" && !listedByName && policy.cidrs.length === 0) {
    return nameRefused(`${host} is not in ${VARIABLE} (not looked up)`);
  }
  const resolved = await resolveAll(literal, options.lookupTimeoutMs ?? 5_000, options.resolve);
  if (!resolved.ok) return { ok: false, reason: resolved.reason, listable: false, unresolved: true };
  for (const address of resolved.addresses) {
    const verdict = checkAddressAllowed(policy, address, listedByName);
    if (!verdict.ok) {
      if (isLiteral) return { ok: false, reason: verdict.reason, listable: verdict.listable };
      return nameRefused(`${host} resolves to ${address}, ${verdict.reason}`);
    }
  }
  return { ok: true, addresses: [...new Set(resolved.addresses)] };
}

/**
 * {@link checkHostAllowed} plus the server's own database: refused when the target's port
 * and database name match a protected database and any of its addresses reaches that
 * database's host (loopback and this machine's own addresses all reach a local server).
 */
export async function checkTargetAllowed(
  policy: HostPolicy,
  target: { host: string; port: number; database: string },
  options: { lookupTimeoutMs?: number; resolve?: (name: string) => Promise<string[]> } = {},
): Promise<HostCheckResult> {
  const verdict = await checkHostAllowed(policy, target.host, options);
  if (!verdict.ok) return verdict;
  for (const own of policy.protectedDatabases) {
    if (own.port !== target.port || own.database.toLowerCase() !== target.database.toLowerCase()) continue;
    const reach = await addressesReaching(own.host, options.lookupTimeoutMs ?? 5_000);
    const reached = verdict.addresses.find((a) => reach.has(canonical(a)));
    if (reached !== undefined) {
      if (isIP(stripBrackets(target.host)) === 0) return nameRefused(`${target.host} resolves to ${reached}, the server's own database, which is never scanned`);
      return { ok: false, reason: "the server's own database, which is never scanned", listable: false };
    }
  }
  return verdict;
}

/** A refused host name: the same answer whatever it resolved to; the truth in `detail`. */
function nameRefused(detail: string): HostCheckResult {
  return { ok: false, reason: NAME_REFUSED, listable: true, byName: true, detail };
}

/**
 * One sentence for the user: why the host is refused and, when an operator could allow it,
 * whom to ask. A refused host name gets one sentence whatever it resolved to.
 */
export function hostRefusal(host: string, verdict: { reason: string; listable: boolean; byName?: true }): string {
  const shown = host.length > 100 ? `${host.slice(0, 100)}…` : host;
  return (
    (verdict.byName ? `Database scans may not connect to ${shown}.` : `Database scans may not connect to ${shown}: it is ${verdict.reason}.`) +
    (verdict.listable ? ` If this database should be scanned, ask your operator to add its host to ${VARIABLE}.` : "")
  );
}

/**
 * The per-address rule of {@link checkHostAllowed}, without DNS: for table tests and for
 * callers that already hold an address. `listedByName` says the host name the address came
 * from is in the policy's hostname list.
 *
 * 1. metadata endpoints: refused, whatever the list says;
 * 2. inside an allow-listed CIDR: allowed (an operator may deliberately allow a private range);
 * 3. a listed hostname: allowed, except link-local, unspecified, multicast and broadcast;
 * 4. allow list: nothing else; default: public unicast, and loopback when allowed.
 */
export function checkAddressAllowed(policy: HostPolicy, address: string, listedByName = false): AddressVerdict {
  if (!ipaddr.isValid(address) || address.includes("%")) return { ok: false, reason: "not an IP address", listable: false };
  const addr = unmap(ipaddr.parse(address));
  const kind = classify(addr);
  if (METADATA.has(addr.toNormalizedString()) || (kind.embedded && METADATA.has(kind.embedded.toNormalizedString()))) {
    return { ok: false, reason: "a cloud metadata address, which is never scanned", listable: false };
  }
  if (policy.cidrs.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits))) return { ok: true };
  if (listedByName && !NEVER_BY_NAME.has(kind.range)) return { ok: true };
  if (policy.mode === "allowList") return { ok: false, reason: `not in ${VARIABLE}`, listable: true };
  if (kind.range === "unicast") return { ok: true };
  if (kind.range === "loopback" && policy.allowLoopback) return { ok: true };
  const label = LABELS[kind.range] ?? `an address of the ${kind.range} range`;
  return { ok: false, reason: kind.embedded ? `an IPv6 address carrying ${label}` : label, listable: true };
}

/**
 * The range that decides an address: IPv4 by ipaddr.js's table; IPv6 forms that carry an
 * IPv4 address (NAT64, IPv4-compatible, 6to4) by that IPv4 address.
 */
function classify(addr: Addr): { range: string; embedded?: ipaddr.IPv4 } {
  if (addr.kind() === "ipv4") return { range: addr.range() };
  const v6 = addr as ipaddr.IPv6;
  const bytes = v6.toByteArray();
  if (v6.match(V6_NAT64_LOCAL)) return { range: "localNat64" };
  let embedded: ipaddr.IPv4 | null = null;
  if (v6.match(V6_NAT64)) embedded = new ipaddr.IPv4(bytes.slice(12));
  else if (v6.match(V6_6TO4)) embedded = new ipaddr.IPv4(bytes.slice(2, 6));
  else if (v6.match(V6_COMPATIBLE) && v6.range() !== "loopback" && v6.range() !== "unspecified") embedded = new ipaddr.IPv4(bytes.slice(12));
  if (embedded) return { range: embedded.range(), embedded };
  return { range: v6.range() };
}

const systemResolve = (name: string): Promise<string[]> => lookup(name, { all: true, verbatim: true }).then((list) => list.map((a) => a.address));

async function resolveAll(
  literal: string,
  timeoutMs: number,
  resolve: (name: string) => Promise<string[]> = systemResolve,
): Promise<{ ok: true; addresses: string[] } | { ok: false; reason: string }> {
  if (isIP(literal) !== 0) return { ok: true, addresses: [literal] };
  try {
    const addresses = await withTimeout(resolve(normalizeHostname(literal)), timeoutMs, "lookup");
    if (addresses.length === 0) return { ok: false, reason: "a name that resolves to no address" };
    return { ok: true, addresses };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (/timed out/.test(String(error)) ? "ETIMEOUT" : "ERROR");
    return { ok: false, reason: `a name that could not be resolved (${code})` };
  }
}

/**
 * Every address that reaches a database server on `host`: its own addresses, and when it is
 * local (loopback, unspecified or one of this machine's), every loopback and local address.
 */
async function addressesReaching(host: string, timeoutMs: number): Promise<Set<string>> {
  const resolved = await resolveAll(host, timeoutMs);
  const out = new Set<string>(resolved.ok ? resolved.addresses.map(canonical) : []);
  const local = localAddresses();
  const isLocal = [...out].some((a) => local.has(a) || ["loopback", "unspecified"].includes(ipaddr.parse(a).range()));
  if (!resolved.ok || isLocal) {
    for (const a of local) out.add(a);
  }
  return out;
}

/** This machine's interface addresses, loopback included, canonical. */
function localAddresses(): Set<string> {
  const out = new Set<string>(["127.0.0.1", "::1", "0.0.0.0", "::"].map(canonical));
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (!info.address.includes("%")) out.add(canonical(info.address));
  }
  return out;
}

/** One spelling per address, IPv4-mapped as IPv4; every 127/8 address as 127.0.0.1. */
function canonical(address: string): string {
  const addr = unmap(ipaddr.parse(address));
  if (addr.range() === "loopback") return addr.kind() === "ipv4" ? "127.0.0.1" : "::1";
  return addr.toNormalizedString();
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) connects over IPv4: compare it as the IPv4 address. */
function unmap(addr: Addr): Addr {
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

function normalizeCidr(addr: Addr, bits: number): readonly [Addr, number] {
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function normalizeHostname(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** RFC 1123 hostname; the last label may not be all-numeric (that would be an IPv4 shorthand). */
function isValidHostname(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (!labels.every((label) => LABEL.test(label))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]!) && !/^0x[0-9a-f]*$/i.test(labels[labels.length - 1]!);
}
