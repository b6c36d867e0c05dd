import { describe, expect, it } from "vitest";
import { isAtticError } from "@attic-ts/core";
import defaultExport, {
  parsePostgresUrl,
  pgConnectionConfig,
  postgresConfigSchema,
  postgresPlugin,
  redact,
  resolveHost,
} from "../src/index.ts";

function configError(fn: () => unknown): { code: unknown; message: string } {
  try {
    fn();
  } catch (err) {
    return { code: isAtticError(err) ? err.code : "not an AtticError", message: (err as Error).message };
  }
  throw new Error("expected a ConfigError");
}

describe("postgresPlugin descriptor", () => {
  it("is a database plugin for postgres:// and postgresql:// URLs, also the default export", () => {
    expect(defaultExport).toBe(postgresPlugin);
    expect(postgresPlugin).toMatchObject({ kind: "database", type: "postgres", urlSchemes: ["postgres", "postgresql"] });
  });
});

describe("postgresConfigSchema", () => {
  it("accepts Attic's keys and fills in the attic-ts defaults", () => {
    expect(postgresConfigSchema.parse({ url: "postgres://localhost/attic", heartbeat: true })).toEqual({
      url: "postgres://localhost/attic",
      heartbeat: true,
      "pool-max": 10,
      "connect-timeout": 30,
    });
  });

  it("parses connect-timeout as humantime or seconds, and pool-max as a positive integer", () => {
    const parse = (extra: object) => postgresConfigSchema.parse({ url: "postgresql://h/db", ...extra });
    expect(parse({ "connect-timeout": "1m 5s", "pool-max": 3 })).toMatchObject({ "connect-timeout": 65, "pool-max": 3 });
    expect(parse({ "connect-timeout": 7 })["connect-timeout"]).toBe(7);
    for (const bad of [{ "connect-timeout": "soon" }, { "connect-timeout": 0 }, { "pool-max": 0 }, { "pool-max": 1.5 }]) {
      expect(postgresConfigSchema.safeParse({ url: "postgres://h/db", ...bad }).success).toBe(false);
    }
  });

  it("rejects other schemes and unknown keys (strict, like Attic)", () => {
    expect(postgresConfigSchema.safeParse({ url: "sqlite://x.db" }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({ url: "postgres://h/db", poolmax: 3 }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({}).success).toBe(false);
  });
});

describe("parsePostgresUrl", () => {
  it("parses user, password, host, port and database, percent-decoded", () => {
    expect(parsePostgresUrl("postgres://att%40ic:p%3Ass@db.example.com:6543/my%20db")).toEqual({
      user: "att@ic",
      password: "p:ss",
      host: "db.example.com",
      port: 6543,
      database: "my db",
      ignoredParams: [],
    });
  });

  it("accepts postgresql:// and leaves unset parts to the defaults", () => {
    expect(parsePostgresUrl("postgresql://localhost")).toEqual({ host: "localhost", ignoredParams: [] });
    expect(parsePostgresUrl("postgresql://")).toEqual({ ignoredParams: [] });
    expect(parsePostgresUrl("postgres://u@h/")).toEqual({ user: "u", host: "h", ignoredParams: [] });
  });

  it("takes a socket directory from ?host= with an empty host part", () => {
    expect(parsePostgresUrl("postgresql:///attic?host=/run/postgresql")).toEqual({
      host: "/run/postgresql",
      database: "attic",
      ignoredParams: [],
    });
    expect(parsePostgresUrl("postgres://%2Frun%2Fpostgresql:5433/attic")).toMatchObject({ host: "/run/postgresql", port: 5433 });
  });

  it("lets query parameters override the URL's parts, and collects unknown ones", () => {
    expect(
      parsePostgresUrl("postgres://a:b@h:1/d?user=u&password=p&port=2&dbname=e&application_name=atticd&options=-c%20x%3D1&foo=1&statement-cache-capacity=5"),
    ).toEqual({
      user: "u",
      password: "p",
      host: "h",
      port: 2,
      database: "e",
      applicationName: "atticd",
      options: "-c x=1",
      ignoredParams: ["foo", "statement-cache-capacity"],
    });
  });

  it("parses IPv6 hosts", () => {
    expect(parsePostgresUrl("postgres://[::1]:5432/db")).toMatchObject({ host: "::1", port: 5432, database: "db" });
  });

  it("maps sslmode: prefer/allow/disable use no TLS, require encrypts, verify-* check the certificate", () => {
    expect(parsePostgresUrl("postgres://h/d?sslmode=prefer").tls).toBeUndefined();
    expect(parsePostgresUrl("postgres://h/d?sslmode=disable").tls).toBeUndefined();
    expect(parsePostgresUrl("postgres://h/d?sslmode=require").tls).toEqual({ verify: false });
    expect(parsePostgresUrl("postgres://h/d?sslmode=verify-full&sslrootcert=/ca.pem").tls).toEqual({ verify: true, rootCert: "/ca.pem" });
  });

  it("throws ConfigError for another scheme, a bad port or sslmode, without leaking the password", () => {
    expect(configError(() => parsePostgresUrl("mysql://h/d")).code).toBe("ConfigError");
    const badPort = configError(() => parsePostgresUrl("postgres://u:secret@h:99999/d"));
    expect(badPort).toMatchObject({ code: "ConfigError" });
    expect(badPort.message).toContain("99999");
    expect(badPort.message).not.toContain("secret");
    expect(configError(() => parsePostgresUrl("postgres://h/d?port=x")).code).toBe("ConfigError");
    expect(configError(() => parsePostgresUrl("postgres://h/d?sslmode=maybe")).message).toContain("sslmode");
    expect(configError(() => parsePostgresUrl("postgres://h/%zz")).code).toBe("ConfigError");
  });

  it("redacts passwords", () => {
    expect(redact("postgres://u:secret@h/d")).toBe("postgres://u:***@h/d");
    expect(redact("postgres://h/d")).toBe("postgres://h/d");
  });
});

describe("connection config", () => {
  it("resolves the host: URL, then PGHOST, then a default socket directory or localhost", () => {
    expect(resolveHost({ host: "/sock", ignoredParams: [] }, { PGHOST: "elsewhere" })).toBe("/sock");
    expect(resolveHost({ ignoredParams: [] }, { PGHOST: "elsewhere" })).toBe("elsewhere");
    // No server socket on this port in any default directory.
    expect(resolveHost({ port: 1, ignoredParams: [] }, {})).toBe("localhost");
  });

  it("builds node-postgres options with the timeout in milliseconds", () => {
    expect(pgConnectionConfig(parsePostgresUrl("postgres://u:p@h:5/d?application_name=x"), 12)).toEqual({
      host: "h",
      port: 5,
      user: "u",
      password: "p",
      database: "d",
      application_name: "x",
      ssl: false,
      connectionTimeoutMillis: 12_000,
    });
    expect(pgConnectionConfig(parsePostgresUrl("postgres://h/d?sslmode=require")).ssl).toEqual({ rejectUnauthorized: false });
  });
});
