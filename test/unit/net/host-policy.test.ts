import { describe, expect, it } from "vitest";
import {
  checkAddressAllowed,
  checkHostAllowed,
  checkTargetAllowed,
  hostPolicyFromConfig,
  hostRefusal,
  NAME_REFUSED,
  protectedDatabaseFromUrl,
  isValidHostSyntax,
  parseAllowedHosts,
} from "../../../src/platform/net/host-policy.js";

const defaults = parseAllowedHosts(undefined);
const dev = parseAllowedHosts(undefined, { allowLoopback: true });

describe("parseAllowedHosts", () => {
  it.each([undefined, "", "   "])("%j is the default policy", (value) => {
    expect(parseAllowedHosts(value).mode).toBe("default");
  });

  it("reads hostnames, IPs and CIDRs (v4 and v6), case- and dot-insensitive", () => {
    const policy = parseAllowedHosts(" DB.Example.com. ,10.0.0.0/8, fd00::/8, 192.168.1.5,[::1], ::ffff:172.16.0.0/108 ,");
    expect(policy.mode).toBe("allowList");
    expect([...policy.hostnames]).toEqual(["db.example.com"]);
    expect(policy.cidrs.map(([a, b]) => `${a.toString()}/${b}`)).toEqual([
      "10.0.0.0/8",
      "fd00::/8",
      "192.168.1.5/32",
      "::1/128",
      "172.16.0.0/12", // written as mapped v6, compared as v4
    ]);
  });

  it.each([
    ["10.0.0.0/33", /not a valid CIDR/],
    ["10.0.0/8", /not a valid CIDR/],
    ["fd00::/129", /not a valid CIDR/],
    ["bad_host", /neither a hostname/],
    ["127.1", /neither a hostname/],
    ["-db.example.com", /neither a hostname/],
    [",", /no hosts listed/],
  ])("refuses %j with a line naming the variable", (value, message) => {
    expect(() => parseAllowedHosts(value)).toThrow(message);
    expect(() => parseAllowedHosts(value)).toThrow(/^DATABASE_SCAN_ALLOWED_HOSTS: /);
  });
});

describe("isValidHostSyntax", () => {
  it.each([
    ["localhost", true],
    ["db.example.com", true],
    ["db.example.com.", true],
    ["a-b.c-d.example", true],
    ["xn--klnten-jua.nl", true],
    ["127.0.0.1", true],
    ["::1", true],
    ["[::1]", true],
    ["2001:db8::5", true],
    ["::ffff:169.254.1.1", true], // syntactically fine; the policy refuses it
    ["", false],
    ["db..example.com", false],
    ["-db.example.com", false],
    ["db-.example.com", false],
    ["db_1.example.com", false],
    ["db.example.com:5432", false],
    ["127.1", false],
    ["2130706433", false],
    ["0x7f.0.0.1", false],
    ["999.1.1.1", false],
    ["[127.0.0.1]", false],
    ["fe80::1%eth0", false],
    ["klanten-ü.nl", false],
    ["a".repeat(64) + ".com", false],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`, true], // 253
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`, false], // 254
    ["db example.com", false],
    ["db.example.com/8", false],
  ])("%j → %s", (host, valid) => {
    expect(isValidHostSyntax(host)).toBe(valid);
  });
});

describe("checkAddressAllowed: default policy (production): public unicast only, in any notation", () => {
  it.each([
    ["8.8.8.8", true],
    ["2606:4700::1111", true],
    ["::ffff:8.8.8.8", true], // mapped form of a public address
    ["64:ff9b::808:808", true], // NAT64 of 8.8.8.8
    ["2002:808:808::1", true], // 6to4 of 8.8.8.8
    ["169.253.255.255", true],
    ["169.255.0.0", true],
    ["127.0.0.1", false],
    ["127.1.2.3", false],
    ["::1", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:7f00:1", false], // the same, written in hex
    ["0:0:0:0:0:ffff:127.0.0.1", false],
    ["64:ff9b::7f00:1", false], // NAT64 of 127.0.0.1
    ["64:ff9b::a00:1", false], // NAT64 of 10.0.0.1
    ["64:ff9b:1::a00:1", false], // local-use NAT64
    ["::127.0.0.1", false], // IPv4-compatible
    ["2002:7f00:1::1", false], // 6to4 of 127.0.0.1
    ["2001::1", false], // Teredo
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["172.31.255.255", false],
    ["172.32.0.1", true],
    ["192.168.1.1", false],
    ["::ffff:192.168.1.1", false],
    ["100.64.0.1", false], // CGNAT
    ["100.127.255.255", false],
    ["100.100.100.200", false], // Alibaba metadata, inside CGNAT
    ["169.254.169.254", false], // cloud metadata
    ["::ffff:169.254.169.254", false],
    ["::ffff:a9fe:a9fe", false],
    ["fd00:ec2::254", false], // AWS metadata over IPv6
    ["fc00::1", false],
    ["fdff:ffff::1", false],
    ["fe80::1", false],
    ["febf:ffff::1", false],
    ["0.0.0.0", false],
    ["0.1.2.3", false],
    ["::", false],
    ["224.0.0.1", false],
    ["255.255.255.255", false],
    ["ff02::1", false],
    ["192.0.2.1", false], // documentation
    ["2001:db8::1", false],
    ["168.63.129.16", false], // Azure wire server: looks public, is metadata
    ["not-an-ip", false],
  ])("%s → %s", (address, ok) => {
    expect(checkAddressAllowed(defaults, address).ok).toBe(ok);
  });

  it("development allows loopback (every notation) and nothing else private", () => {
    const dev = parseAllowedHosts(undefined, { allowLoopback: true });
    for (const a of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "8.8.8.8"]) expect(checkAddressAllowed(dev, a).ok, a).toBe(true);
    for (const a of ["10.0.0.1", "192.168.0.1", "100.64.0.1", "fd00::1", "169.254.169.254", "0.0.0.0", "::"]) expect(checkAddressAllowed(dev, a).ok, a).toBe(false);
  });

  it("says what was refused and whether an operator could allow it", () => {
    expect(checkAddressAllowed(defaults, "10.0.0.1")).toEqual({ ok: false, reason: expect.stringMatching(/private address/), listable: true });
    expect(checkAddressAllowed(defaults, "64:ff9b::a00:1")).toEqual({ ok: false, reason: expect.stringMatching(/IPv6 address carrying a private/), listable: true });
    expect(checkAddressAllowed(defaults, "169.254.169.254")).toEqual({ ok: false, reason: expect.stringMatching(/metadata/), listable: false });
  });
});

describe("checkAddressAllowed: allow list", () => {
  const policy = parseAllowedHosts("10.0.0.0/8,fd00::/8,db.internal,169.254.10.0/24");
  it.each([
    ["10.0.0.1", false, true],
    ["10.255.255.255", false, true],
    ["11.0.0.1", false, false],
    ["127.0.0.1", false, false],
    ["::ffff:10.1.2.3", false, true], // mapped form of an allowed v4 address
    ["fd12::1", false, true],
    ["fe80::1", false, false],
    ["192.168.1.1", true, true], // the hostname is listed
    ["169.254.169.254", true, false], // listed hostname, but metadata is still refused
    ["169.254.1.1", true, false], // and so is link-local
    ["169.254.10.7", false, true], // unless the operator lists the range itself
    ["fd00:ec2::254", false, false], // metadata inside a listed range: refused all the same
    ["8.8.8.8", false, false], // an allow list allows only what it lists
  ])("%s (listed by name: %s) → %s", (address, byName, ok) => {
    expect(checkAddressAllowed(policy, address, byName).ok).toBe(ok);
  });
});

describe("checkHostAllowed (resolves with the system resolver, no sockets)", () => {
  it("refuses 169.254.1.1 under the default policy", async () => {
    const result = await checkHostAllowed(defaults, "169.254.1.1");
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/link-local/), listable: true });
  });

  it("returns the literal address for an IP host", async () => {
    expect(await checkHostAllowed(dev, "127.0.0.1")).toEqual({ ok: true, addresses: ["127.0.0.1"] });
    expect(await checkHostAllowed(dev, "[::1]")).toEqual({ ok: true, addresses: ["::1"] });
    expect(await checkHostAllowed(defaults, "8.8.8.8")).toEqual({ ok: true, addresses: ["8.8.8.8"] });
  });

  it("production refuses loopback by any address, and by name without saying what the name resolved to", async () => {
    for (const host of ["127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"]) {
      const result = await checkHostAllowed(defaults, host);
      expect(result, host).toMatchObject({ ok: false, reason: expect.stringMatching(/loopback/) });
    }
    const byName = await checkHostAllowed(defaults, "localhost");
    expect(byName).toMatchObject({ ok: false, reason: NAME_REFUSED, listable: true, byName: true, detail: expect.stringMatching(/^localhost resolves to .*loopback/) });
    expect(hostRefusal("localhost", byName as { reason: string; listable: boolean })).not.toMatch(/loopback|resolve|127\.0\.0\.1|::1/);
  });

  it.each(["2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "017700000001", "127.1", "127.0.1"])(
    "refuses the IPv4 shorthand %s as syntax, before any lookup",
    async (host) => {
      expect(await checkHostAllowed(dev, host)).toMatchObject({ ok: false, reason: /not a valid hostname/ });
    },
  );

  it("resolves a hostname and returns checked addresses", async () => {
    const result = await checkHostAllowed(dev, "localhost");
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.addresses.length).toBeGreaterThan(0);
      for (const address of result.addresses) expect(["127.0.0.1", "::1"]).toContain(address);
    }
  });

  it("checks resolved addresses against an allow list of CIDRs", async () => {
    const result = await checkHostAllowed(parseAllowedHosts("10.0.0.0/8"), "localhost");
    expect(result).toEqual({ ok: false, reason: NAME_REFUSED, listable: true, byName: true, detail: expect.stringMatching(/not in DATABASE_SCAN_ALLOWED_HOSTS/) });
    expect(await checkHostAllowed(parseAllowedHosts("10.0.0.0/8"), "127.0.0.1")).toMatchObject({ reason: expect.stringMatching(/not in DATABASE_SCAN_ALLOWED_HOSTS/) });
    expect(await checkHostAllowed(parseAllowedHosts("10.0.0.0/8"), "127.0.0.1")).toMatchObject({ ok: false });
    expect(await checkHostAllowed(parseAllowedHosts("127.0.0.0/8,::1"), "localhost")).toMatchObject({ ok: true });
    expect(await checkHostAllowed(parseAllowedHosts("LOCALHOST"), "localhost")).toMatchObject({ ok: true });
  });

  it("refuses bad syntax and unresolvable names", async () => {
    expect(await checkHostAllowed(defaults, "127.1")).toMatchObject({ ok: false, reason: /not a valid hostname/ });
    expect(await checkHostAllowed(defaults, "no-such-host.invalid")).toMatchObject({
      ok: false,
      reason: /could not be resolved/,
    });
  });
});

describe("a refused host name is no oracle for internal DNS", () => {
  // What each name "resolves" to, as an internal DNS might answer.
  const zone: Record<string, string[]> = {
    "db.corp.example": ["10.1.2.3"],
    "files.corp.example": ["192.168.7.8"],
    "cgnat.corp.example": ["100.64.0.9"],
    "local.corp.example": ["127.0.0.53"],
    "v6.corp.example": ["fd12:3456::1"],
    "link.corp.example": ["169.254.10.10"],
    "metadata.corp.example": ["169.254.169.254"],
    "azure.corp.example": ["168.63.129.16"],
    "nat64.corp.example": ["64:ff9b::a01:203"],
    "mixed.corp.example": ["93.184.216.34", "10.9.9.9"],
    "multicast.corp.example": ["239.1.2.3"],
  };
  const resolve = (name: string) => Promise.resolve(zone[name] ?? []);

  it.each([
    ["the default policy", defaults],
    ["an allow list of CIDRs", parseAllowedHosts("203.0.113.0/24")],
    ["an allow list naming every host", parseAllowedHosts(Object.keys(zone).join(","))],
  ])("under %s every refused name gets the same answer; what it resolved to goes to `detail` only", async (_policy, policy) => {
    const answers = new Set<string>();
    for (const [name, addresses] of Object.entries(zone)) {
      const result = await checkHostAllowed(policy, name, { resolve });
      if (result.ok) continue; // a listed name may be allowed to a private address: not a refusal
      expect(result, name).toEqual({ ok: false, reason: NAME_REFUSED, listable: true, byName: true, detail: expect.any(String) });
      expect(addresses.some((a) => result.detail!.startsWith(`${name} resolves to ${a}, `)), result.detail).toBe(true);
      const sentence = hostRefusal(name, result).replace(name, "<host>");
      expect(sentence).toBe("Database scans may not connect to <host>. If this database should be scanned, ask your operator to add its host to DATABASE_SCAN_ALLOWED_HOSTS.");
      expect(sentence).not.toMatch(/private|loopback|local|metadata|address|resolve|NAT|range|\d+\.\d+\./i);
      answers.add(sentence);
    }
    expect(answers.size).toBe(1);
  });

  it("an allow list of names only refuses an unlisted name without looking it up: existing or not, the same answer", async () => {
    const policy = parseAllowedHosts("db.corp.example");
    const looked: string[] = [];
    const spy = (name: string) => {
      looked.push(name);
      return resolve(name);
    };
    for (const name of ["files.corp.example", "no-such-name.corp.example"]) {
      expect(await checkHostAllowed(policy, name, { resolve: spy }), name).toEqual({
        ok: false,
        reason: NAME_REFUSED,
        listable: true,
        byName: true,
        detail: `${name} is not in DATABASE_SCAN_ALLOWED_HOSTS (not looked up)`,
      });
    }
    expect(looked).toEqual([]);
    expect(await checkHostAllowed(policy, "db.corp.example", { resolve: spy })).toEqual({ ok: true, addresses: ["10.1.2.3"] });
    expect(looked).toEqual(["db.corp.example"]);
  });

  it("an address typed by the user still says what it is (nothing is revealed that the user did not type)", async () => {
    expect(await checkHostAllowed(defaults, "10.1.2.3", { resolve })).toEqual({ ok: false, reason: expect.stringMatching(/^a private address/), listable: true });
    expect(hostRefusal("169.254.169.254", (await checkHostAllowed(defaults, "169.254.169.254")) as { reason: string; listable: boolean })).toBe(
      "Database scans may not connect to 169.254.169.254: it is a cloud metadata address, which is never scanned.",
    );
  });

  it("the server's own database reached by a name: the same answer as any refused name", async () => {
    const policy = parseAllowedHosts(undefined, { allowLoopback: true, protectedDatabases: [{ host: "127.0.0.1", port: 5432, database: "dataguardian" }] });
    const result = await checkTargetAllowed(policy, { host: "db.corp.example", port: 5432, database: "dataguardian" }, { resolve: () => Promise.resolve(["127.0.0.1"]) });
    expect(result).toEqual({ ok: false, reason: NAME_REFUSED, listable: true, byName: true, detail: "db.corp.example resolves to 127.0.0.1, the server's own database, which is never scanned" });
  });
});

describe("the server's own database is refused even when its host is allowed", () => {
  const own = { host: "localhost", port: 5432, database: "dataguardian" };
  const policies = {
    development: parseAllowedHosts(undefined, { allowLoopback: true, protectedDatabases: [own] }),
    "an operator allowing loopback": parseAllowedHosts("127.0.0.0/8,::1,localhost", { protectedDatabases: [own] }),
  };
  it.each(Object.entries(policies))("%s", async (_name, policy) => {
    for (const host of ["localhost", "127.0.0.1", "127.0.0.2", "[::1]", "[::ffff:127.0.0.1]"]) {
      for (const database of ["dataguardian", "DataGuardian"]) {
        expect(await checkTargetAllowed(policy, { host, port: 5432, database }), `${host}/${database}`).toEqual(
          host === "localhost"
            ? { ok: false, reason: NAME_REFUSED, listable: true, byName: true, detail: expect.stringMatching(/^localhost resolves to .*, the server's own database/) }
            : { ok: false, reason: "the server's own database, which is never scanned", listable: false },
        );
      }
    }
    // Another database or port on the same host is a different target.
    expect(await checkTargetAllowed(policy, { host: "127.0.0.1", port: 5432, database: "crm" })).toMatchObject({ ok: true });
    expect(await checkTargetAllowed(policy, { host: "127.0.0.1", port: 5433, database: "dataguardian" })).toMatchObject({ ok: true });
  });

  it("reads host, port and database from DATABASE_URL (libpq defaults)", () => {
    expect(protectedDatabaseFromUrl("postgres://u:p@db.internal:6543/app?sslmode=require")).toEqual({ host: "db.internal", port: 6543, database: "app" });
    expect(protectedDatabaseFromUrl("postgresql://alice@[::1]/")).toEqual({ host: "::1", port: 5432, database: "alice" });
  });

  it("hostPolicyFromConfig: loopback outside production only; the own database always protected", async () => {
    const url = "postgres://postgres@127.0.0.1:5432/dataguardian";
    const prod = hostPolicyFromConfig({ isProduction: true }, url);
    const devPolicy = hostPolicyFromConfig({ isProduction: false }, url);
    expect(await checkTargetAllowed(prod, { host: "127.0.0.1", port: 5432, database: "other" })).toMatchObject({ ok: false, reason: /loopback/ });
    expect(await checkTargetAllowed(devPolicy, { host: "127.0.0.1", port: 5432, database: "other" })).toMatchObject({ ok: true });
    expect(await checkTargetAllowed(devPolicy, { host: "localhost", port: 5432, database: "dataguardian" })).toMatchObject({ ok: false, byName: true });
    expect(await checkTargetAllowed(devPolicy, { host: "127.0.0.1", port: 5432, database: "dataguardian" })).toMatchObject({ ok: false, listable: false });
    const listed = hostPolicyFromConfig({ isProduction: true, DATABASE_SCAN_ALLOWED_HOSTS: "127.0.0.1" }, url);
    expect(await checkTargetAllowed(listed, { host: "127.0.0.1", port: 5432, database: "dataguardian" })).toMatchObject({ ok: false, listable: false });
  });
});
