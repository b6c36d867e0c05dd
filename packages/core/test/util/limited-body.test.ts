import { describe, expect, it } from "vitest";
import { LimitedBody } from "../../src/util/limited-body.ts";

function source(...parts: string[]): AsyncIterable<Uint8Array> & { closed: boolean } {
  const result = {
    closed: false,
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: async (): Promise<IteratorResult<Uint8Array>> =>
          i < parts.length ? { done: false, value: Buffer.from(parts[i++]!) } : { done: true, value: undefined },
        return: async (): Promise<IteratorResult<Uint8Array>> => {
          result.closed = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return result;
}

async function read(body: LimitedBody): Promise<string> {
  let text = "";
  for await (const part of body) text += Buffer.from(part).toString();
  return text;
}

describe("LimitedBody", () => {
  it("passes exactly `limit` bytes and sees no excess when the source ends there (empty slices ignored)", async () => {
    const src = source("abc", "", "def", "");
    const body = new LimitedBody(src, 6);
    expect(await read(body)).toBe("abcdef");
    expect(body.excess).toBe(false);
    expect(src.closed).toBe(true);
  });

  it("passes a short body whole, without excess (the hash and size checks catch it)", async () => {
    const body = new LimitedBody(source("abc"), 6);
    expect(await read(body)).toBe("abc");
    expect(body.excess).toBe(false);
  });

  it("cuts at `limit` and flags excess within a slice and after it", async () => {
    const within = new LimitedBody(source("abcd", "efgh"), 6);
    expect(await read(within)).toBe("abcdef");
    expect(within.excess).toBe(true);
    const after = new LimitedBody(source("abc", "def", "", "g"), 6);
    expect(await read(after)).toBe("abcdef");
    expect(after.excess).toBe(true);
  });

  it("closes the source at once on return(), even while a read is pending", async () => {
    let closed = false;
    const stalled: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>(() => undefined),
        return: async () => {
          closed = true;
          return { done: true, value: undefined };
        },
      }),
    };
    const iterator = new LimitedBody(stalled, 10)[Symbol.asyncIterator]();
    void iterator.next();
    void iterator.return!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });

  it("closes the source and rethrows when a read fails", async () => {
    let closed = false;
    const failing: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          throw new Error("socket reset");
        },
        return: async () => {
          closed = true;
          return { done: true, value: undefined };
        },
      }),
    };
    await expect(read(new LimitedBody(failing, 10))).rejects.toThrow("socket reset");
    expect(closed).toBe(true);
  });
});
