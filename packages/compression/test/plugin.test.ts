import { describe, expect, it } from "vitest";
import { COMPRESSOR, Lifecycle, createRootContainer, resolve } from "@attic-ts/core";
import type { PluginContext } from "@attic-ts/core";
import { NativeCompressor, nativeCompressionPlugin } from "../src/index.ts";
import { collect, slices, textLike } from "./helpers.ts";

describe("nativeCompressionPlugin", () => {
  it("is the native compressor plugin with a strict config", () => {
    expect(nativeCompressionPlugin.kind).toBe("compressor");
    expect(nativeCompressionPlugin.type).toBe("native");
    const schema = nativeCompressionPlugin.configSchema;
    expect(schema.parse({})).toEqual({});
    expect(schema.parse({ workers: 3 })).toEqual({ workers: 3 });
    for (const bad of [{ workers: 0 }, { workers: 1.5 }, { workers: "2" }, { threads: 2 }]) {
      expect(schema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("binds COMPRESSOR and stops its workers with the lifecycle", async () => {
    const container = createRootContainer();
    const lifecycle = new Lifecycle();
    const ctx = { lifecycle, logger: undefined, engineConfig: undefined } as unknown as PluginContext;
    nativeCompressionPlugin.register(container, { workers: 1 }, ctx);
    const compressor = resolve(container, COMPRESSOR);
    expect(compressor).toBeInstanceOf(NativeCompressor);
    const pool = (compressor as NativeCompressor).pool;
    expect(pool.size).toBe(1);

    const text = textLike(200_000);
    const packed = await collect(compressor.compress("zstd", slices(text)));
    expect((await collect(compressor.decompress("zstd", slices(packed)))).equals(text)).toBe(true);
    expect(pool.workerCount).toBe(1);

    await lifecycle.start();
    await lifecycle.stop();
    expect(pool.workerCount).toBe(0);
    await expect(collect(compressor.compress("zstd", slices(text)))).rejects.toThrow(/closed/);
  });
});
