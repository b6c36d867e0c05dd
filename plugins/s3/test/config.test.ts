import { describe, expect, it } from "vitest";
import { s3Plugin, s3StorageConfigSchema } from "../src/index.ts";

const minimal = { type: "s3", region: "us-east-1", bucket: "attic" };

describe("s3 storage config", () => {
  it("accepts Attic's minimal table and defaults the extension to false", () => {
    expect(s3StorageConfigSchema.parse(minimal)).toEqual({ ...minimal, "treat-forbidden-as-missing": false });
  });

  it("accepts endpoint, credentials and treat-forbidden-as-missing", () => {
    const full = {
      ...minimal,
      endpoint: "http://127.0.0.1:9000",
      credentials: { access_key_id: "AKIA", secret_access_key: "secret" },
      "treat-forbidden-as-missing": true,
    };
    expect(s3StorageConfigSchema.parse(full)).toEqual(full);
  });

  it.each([
    ["region", { type: "s3", bucket: "attic" }],
    ["bucket", { type: "s3", region: "us-east-1" }],
  ])("requires %s", (field, table) => {
    const result = s3StorageConfigSchema.safeParse(table);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toContain(field);
  });

  it("rejects unknown keys, at the top and in credentials (strict, like Attic)", () => {
    expect(s3StorageConfigSchema.safeParse({ ...minimal, prefix: "x" }).success).toBe(false);
    expect(s3StorageConfigSchema.safeParse({ ...minimal, credentials: { access_key_id: "a", secret_access_key: "b", token: "c" } }).success).toBe(false);
  });

  it("requires both credential keys when the table is present", () => {
    expect(s3StorageConfigSchema.safeParse({ ...minimal, credentials: { access_key_id: "a" } }).success).toBe(false);
    expect(s3StorageConfigSchema.safeParse({ ...minimal, credentials: {} }).success).toBe(false);
  });

  it("rejects another type, a non-URL endpoint and empty strings", () => {
    expect(s3StorageConfigSchema.safeParse({ ...minimal, type: "local" }).success).toBe(false);
    expect(s3StorageConfigSchema.safeParse({ ...minimal, endpoint: "not a url" }).success).toBe(false);
    expect(s3StorageConfigSchema.safeParse({ ...minimal, endpoint: "ftp://host" }).success).toBe(false);
    expect(s3StorageConfigSchema.safeParse({ ...minimal, bucket: "" }).success).toBe(false);
    expect(s3StorageConfigSchema.safeParse({ ...minimal, "treat-forbidden-as-missing": "yes" }).success).toBe(false);
  });

  it("is the plugin's schema, selected by type s3", () => {
    expect(s3Plugin.kind).toBe("storage");
    expect(s3Plugin.type).toBe("s3");
    expect(s3Plugin.configSchema).toBe(s3StorageConfigSchema);
  });
});
