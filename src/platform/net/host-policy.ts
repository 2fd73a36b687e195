import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Which hosts a database scan may connect to (`DATABASE_SCAN_ALLOWED_HOSTS`).
 *
 * A database scan connects from inside our network to a host a user typed in: without a
 * policy that is a server-side request forgery tool (cloud metadata at 169.254.169.254,
 * internal services). The policy is checked on the *resolved* addresses, and the scanner
 * connects to an address returned by {@link checkHostAllowed}, never to the name again, so a
 * DNS answer that changes between check and connect (rebinding) cannot route around it.
 */
export interface HostPolicy {
  /** `default`: any host except the always-refused ranges; `allowList`: only the listed entries. */
  readonly mode: "default" | "allowList";
  /** Lower-case hostnames (no trailing dot) allowed by name. */
  readonly hostnames: ReadonlySet<string>;
  /** Address ranges allowed; a bare IP in the list is a /32 or /128. */
  readonly cidrs: ReadonlyArray<readonly [ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

export type HostCheckResult = { ok: true; addresses: string[] } | { ok: false; reason: string };

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

const V4_LINK_LOCAL = ipaddr.IPv4.parseCIDR("169.254.0.0/16");
const V4_THIS_NETWORK = ipaddr.IPv4.parseCIDR("0.0.0.0/8");
const V6_LINK_LOCAL = ipaddr.IPv6.parseCIDR("fe80::/10");
const V6_UNSPECIFIED = ipaddr.IPv6.parseCIDR("::/128");
/** Prefixes that carry an IPv4 address in their low 32 bits and can route to it. */
const V6_EMBEDDING_V4: ReadonlyArray<[ipaddr.IPv6, number]> = [
  ipaddr.IPv6.parseCIDR("::ffff:0:0/96"), // IPv4-mapped (the kernel connects over IPv4)
  ipaddr.IPv6.parseCIDR("64:ff9b::/96"), // NAT64 well-known prefix (RFC 6052)
  ipaddr.IPv6.parseCIDR("::/96"), // IPv4-compatible (deprecated, RFC 4291 2.5.5.1)
];
const V6_6TO4 = ipaddr.IPv6.parseCIDR("2002::/16");

const VARIABLE = "DATABASE_SCAN_ALLOWED_HOSTS";

/**
 * Parses `DATABASE_SCAN_ALLOWED_HOSTS`: a comma list of hostnames, IP addresses and CIDRs
 * (IPv4 or IPv6). Unset or blank means the default policy: any host but link-local and the
 * unspecified addresses.
 *
 * @throws Error naming the variable and the bad entry, for the config loader to print.
 * @default unset: any host but 169.254.0.0/16, fe80::/10, 0.0.0.0/8 and ::
 */
export function parseAllowedHosts(value: string | undefined): HostPolicy {
  if (value === undefined || value.trim() === "") {
    return Object.freeze({ mode: "default", hostnames: new Set<string>(), cidrs: [] });
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
    throw new Error(`${VARIABLE}: no hosts listed (unset it to allow any host but link-local)`);
  }
  return Object.freeze({ mode: "allowList", hostnames, cidrs: Object.freeze(cidrs) });
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
 *
 * Rules, per resolved address:
 * 1. inside an allow-listed CIDR: allowed (an operator may deliberately allow link-local);
 * 2. link-local, unspecified (0.0.0.0/8, ::), or an IPv6 form embedding such an IPv4
 *    address (mapped, NAT64, 6to4, compatible): refused;
 * 3. default policy: allowed; allow list: allowed only when `host` is a listed hostname.
 * One refused address refuses the host: an attacker controlling DNS could otherwise mix a
 * harmless and a forbidden answer.
 */
export async function checkHostAllowed(
  policy: HostPolicy,
  host: string,
  options: {
    /** Give up resolving after this long. @default 5000 */
    lookupTimeoutMs?: number;
  } = {},
): Promise<HostCheckResult> {
  if (!isValidHostSyntax(host)) return { ok: false, reason: `"${host}" is not a valid hostname or IP address` };
  const literal = stripBrackets(host);
  const name = normalizeHostname(literal);
  const listedByName = policy.mode === "allowList" && policy.hostnames.has(name);

  let addresses: string[];
  if (isIP(literal) !== 0) {
    addresses = [literal];
  } else {
    try {
      addresses = await withTimeout(
        lookup(name, { all: true, verbatim: true }).then((list) => list.map((a) => a.address)),
        options.lookupTimeoutMs ?? 5_000,
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "ERROR";
      return { ok: false, reason: `could not resolve "${host}" (${code})` };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `"${host}" resolved to no address` };

  const vetted: string[] = [];
  for (const address of addresses) {
    const verdict = checkAddressAllowed(policy, address, listedByName);
    if (!verdict.ok) return { ok: false, reason: `"${host}" resolves to ${address}: ${verdict.reason}` };
    vetted.push(address);
  }
  return { ok: true, addresses: [...new Set(vetted)] };
}

/**
 * The per-address rule of {@link checkHostAllowed}, without DNS: for table tests and for
 * callers that already hold an address. `listedByName` says the host name the address came
 * from is in the policy's hostname list.
 */
export function checkAddressAllowed(
  policy: HostPolicy,
  address: string,
  listedByName = false,
): { ok: true } | { ok: false; reason: string } {
  if (!ipaddr.isValid(address) || address.includes("%")) return { ok: false, reason: "not an IP address" };
  const parsed = ipaddr.parse(address);
  const addr = unmap(parsed);
  if (policy.cidrs.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits))) {
    return { ok: true };
  }
  const blocked = blockedReason(addr);
  if (blocked) return { ok: false, reason: blocked };
  if (policy.mode === "default" || listedByName) return { ok: true };
  return { ok: false, reason: `not in ${VARIABLE}` };
}

function blockedReason(addr: Addr): string | null {
  if (addr.kind() === "ipv4") {
    const v4 = addr as ipaddr.IPv4;
    if (v4.match(V4_LINK_LOCAL)) return "link-local addresses are refused";
    if (v4.match(V4_THIS_NETWORK)) return "unspecified addresses are refused";
    return null;
  }
  const v6 = addr as ipaddr.IPv6;
  if (v6.match(V6_UNSPECIFIED)) return "unspecified addresses are refused";
  if (v6.match(V6_LINK_LOCAL)) return "link-local addresses are refused";
  for (const prefix of V6_EMBEDDING_V4) {
    if (v6.match(prefix)) {
      const embedded = new ipaddr.IPv4(v6.toByteArray().slice(12));
      // ::1 is the loopback, not "IPv4-compatible 0.0.0.1": only link-local counts here.
      if (embedded.match(V4_LINK_LOCAL)) return `embeds link-local ${embedded.toString()}`;
      if (prefix !== V6_EMBEDDING_V4[2] && embedded.match(V4_THIS_NETWORK)) {
        return `embeds unspecified ${embedded.toString()}`;
      }
    }
  }
  if (v6.match(V6_6TO4)) {
    const embedded = new ipaddr.IPv4(v6.toByteArray().slice(2, 6));
    if (embedded.match(V4_LINK_LOCAL) || embedded.match(V4_THIS_NETWORK)) {
      return `6to4 address embeds ${embedded.toString()}`;
    }
  }
  return null;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("lookup timed out"), { code: "ETIMEOUT" })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
