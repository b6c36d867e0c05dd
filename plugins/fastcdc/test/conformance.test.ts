import { describe, expect, it } from "vitest";
import { CHUNKER, ConfigError, createRootContainer, resolve } from "@attic-ts/core";
import type { ChunkSizes, PluginContext } from "@attic-ts/core";
import { describeChunkerConformance } from "@attic-ts/core/testing";
import fastcdcDefault, { FastCdcChunker, fastcdcPlugin } from "../src/index.ts";

const create = (sizes: ChunkSizes): FastCdcChunker => new FastCdcChunker(sizes);

// The suite's default small sizes (many chunks per test input).
describeChunkerConformance("FastCdcChunker", { create });
// Attic's server.toml template.
describeChunkerConformance("FastCdcChunker", { create, sizes: { minSize: 16384, avgSize: 65536, maxSize: 262144 } });
// The sizes of Attic's NixOS integration test.
describeChunkerConformance("FastCdcChunker", { create, sizes: { minSize: 65536, avgSize: 131072, maxSize: 262144 } });
// The smallest sizes Attic accepts.
describeChunkerConformance("FastCdcChunker", { create, sizes: { minSize: 64, avgSize: 256, maxSize: 1024 } });

describe("FastCdcChunker size validation", () => {
  const valid = { minSize: 16384, avgSize: 65536, maxSize: 262144 };
  const invalid: [string, ChunkSizes, RegExp][] = [
    ["min below 64", { ...valid, minSize: 63 }, /min-size must be an integer from 64 to 67108864/],
    ["min above 64 MiB", { minSize: 64 * 2 ** 20 + 1, avgSize: 2 ** 28, maxSize: 2 ** 30 }, /min-size/],
    ["avg below 256", { minSize: 64, avgSize: 255, maxSize: 1024 }, /avg-size must be an integer from 256 to 268435456/],
    ["avg above 256 MiB", { minSize: 64, avgSize: 2 ** 28 + 1, maxSize: 2 ** 30 }, /avg-size/],
    ["max below 1 KiB", { minSize: 64, avgSize: 256, maxSize: 1023 }, /max-size must be an integer from 1024 to 1073741824/],
    ["max above 1 GiB", { ...valid, maxSize: 2 ** 30 + 1 }, /max-size/],
    ["non-integer", { ...valid, avgSize: 65536.5 }, /avg-size/],
    ["min > avg", { minSize: 70000, avgSize: 65536, maxSize: 262144 }, /min-size <= avg-size <= max-size/],
    ["avg > max", { minSize: 1024, avgSize: 8192, maxSize: 4096 }, /min-size <= avg-size <= max-size/],
  ];
  for (const [label, sizes, message] of invalid) {
    it(`rejects ${label}`, () => {
      expect(() => new FastCdcChunker(sizes)).toThrow(ConfigError);
      expect(() => new FastCdcChunker(sizes)).toThrow(message);
    });
  }

  it("accepts the range bounds and copies the sizes", () => {
    const sizes = { minSize: 64, avgSize: 256, maxSize: 1024 };
    const chunker = new FastCdcChunker(sizes);
    sizes.minSize = 128;
    expect(chunker.sizes).toEqual({ minSize: 64, avgSize: 256, maxSize: 1024 });
    expect(new FastCdcChunker({ minSize: 64 * 2 ** 20, avgSize: 256 * 2 ** 20, maxSize: 2 ** 30 }).sizes.maxSize).toBe(2 ** 30);
  });
});

describe("fastcdcPlugin", () => {
  const table = { "nar-size-threshold": 65536, "min-size": 16384, "avg-size": 65536, "max-size": 262144 };

  it("is the default export and describes the fastcdc chunker", () => {
    expect(fastcdcDefault).toBe(fastcdcPlugin);
    expect(fastcdcPlugin.kind).toBe("chunker");
    expect(fastcdcPlugin.type).toBe("fastcdc");
  });

  it("validates Attic's [chunking] table", () => {
    expect(fastcdcPlugin.configSchema.parse(table)).toEqual(table);
    expect(fastcdcPlugin.configSchema.safeParse({ ...table, "min-size": 32 }).success).toBe(false);
    expect(fastcdcPlugin.configSchema.safeParse({ ...table, "avg-size": 1 << 20 }).success).toBe(false);
    expect(fastcdcPlugin.configSchema.safeParse({ ...table, "normalization-level": 1 }).success).toBe(false);
  });

  it("binds CHUNKER to a FastCdcChunker with the configured sizes", () => {
    const container = createRootContainer();
    const ctx = {} as PluginContext; // register uses no context
    fastcdcPlugin.register(container, fastcdcPlugin.configSchema.parse(table), ctx);
    const chunker = resolve(container, CHUNKER);
    expect(chunker).toBeInstanceOf(FastCdcChunker);
    expect(chunker.sizes).toEqual({ minSize: 16384, avgSize: 65536, maxSize: 262144 });
  });
});
