import { describe, expect, it } from "vitest";
import {
  checkAddressAllowed,
  checkHostAllowed,
  isValidHostSyntax,
  parseAllowedHosts,
} from "../../../src/platform/net/host-policy.js";

const defaults = parseAllowedHosts(undefined);

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

describe("checkAddressAllowed: default policy", () => {
  it.each([
    ["127.0.0.1", true],
    ["10.1.2.3", true],
    ["8.8.8.8", true],
    ["::1", true],
    ["2001:db8::1", true],
    ["169.254.169.254", false], // cloud metadata
    ["169.254.0.0", false],
    ["169.254.255.255", false],
    ["169.253.255.255", true],
    ["169.255.0.0", true],
    ["0.0.0.0", false],
    ["0.1.2.3", false],
    ["::", false],
    ["fe80::1", false],
    ["febf:ffff::1", false], // still inside fe80::/10
    ["fec0::1", true],
    ["::ffff:169.254.169.254", false], // IPv4-mapped link-local
    ["::ffff:a9fe:a9fe", false], // the same, written in hex
    ["::ffff:0.0.0.0", false],
    ["::ffff:127.0.0.1", true],
    ["64:ff9b::169.254.169.254", false], // NAT64
    ["::169.254.1.1", false], // IPv4-compatible
    ["2002:a9fe:a9fe::1", false], // 6to4 of 169.254.169.254
    ["2002:0a00:0001::1", true],
    ["not-an-ip", false],
  ])("%s → %s", (address, ok) => {
    expect(checkAddressAllowed(defaults, address).ok).toBe(ok);
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
    ["169.254.169.254", true, false], // listed hostname, but link-local is still refused
    ["169.254.10.7", false, true], // unless the operator lists the range itself
  ])("%s (listed by name: %s) → %s", (address, byName, ok) => {
    expect(checkAddressAllowed(policy, address, byName).ok).toBe(ok);
  });
});

describe("checkHostAllowed (resolves with the system resolver, no sockets)", () => {
  it("refuses 169.254.1.1 under the default policy", async () => {
    const result = await checkHostAllowed(defaults, "169.254.1.1");
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/link-local/) });
  });

  it("returns the literal address for an IP host", async () => {
    expect(await checkHostAllowed(defaults, "127.0.0.1")).toEqual({ ok: true, addresses: ["127.0.0.1"] });
    expect(await checkHostAllowed(defaults, "[::1]")).toEqual({ ok: true, addresses: ["::1"] });
  });

  it("resolves a hostname and returns checked addresses", async () => {
    const result = await checkHostAllowed(defaults, "localhost");
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.addresses.length).toBeGreaterThan(0);
      for (const address of result.addresses) expect(["127.0.0.1", "::1"]).toContain(address);
    }
  });

  it("checks resolved addresses against an allow list of CIDRs", async () => {
    const result = await checkHostAllowed(parseAllowedHosts("10.0.0.0/8"), "localhost");
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/not in DATABASE_SCAN_ALLOWED_HOSTS/) });
    expect(await checkHostAllowed(parseAllowedHosts("10.0.0.0/8"), "127.0.0.1")).toMatchObject({ ok: false });
    expect(await checkHostAllowed(parseAllowedHosts("127.0.0.0/8,::1"), "localhost")).toMatchObject({ ok: true });
    expect(await checkHostAllowed(parseAllowedHosts("LOCALHOST"), "localhost")).toMatchObject({ ok: true });
  });

  it("refuses bad syntax and unresolvable names", async () => {
    expect(await checkHostAllowed(defaults, "127.1")).toMatchObject({ ok: false, reason: /not a valid hostname/ });
    expect(await checkHostAllowed(defaults, "no-such-host.invalid")).toMatchObject({
      ok: false,
      reason: /could not resolve/,
    });
  });
});
