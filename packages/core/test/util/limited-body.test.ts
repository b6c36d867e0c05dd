import { describe, expect, it } from "vitest";
import { trackedSource } from "../../src/testing/fixtures.ts";
import { LimitedBody } from "../../src/util/limited-body.ts";

/** A source of `parts` (text), ending after them. */
function source(...parts: string[]) {
  return trackedSource(parts.map((part) => Buffer.from(part)));
}

async function read(body: LimitedBody): Promise<string> {
  let text = "";
  for await (const part of body) text += Buffer.from(part).toString();
  return text;
}

describe("LimitedBody", () => {
  it("passes exactly `limit` bytes and sees no excess when the source ends there (empty slices ignored)", async () => {
    const src = source("abc", "", "def", "");
    const body = new LimitedBody(src.source, 6);
    expect(await read(body)).toBe("abcdef");
    expect(body.excess).toBe(false);
    expect(src.closed).toBe(true);
  });

  it("passes a short body whole, without excess (the hash and size checks catch it)", async () => {
    const body = new LimitedBody(source("abc").source, 6);
    expect(await read(body)).toBe("abc");
    expect(body.excess).toBe(false);
  });

  it("cuts at `limit` and flags excess within a slice and after it", async () => {
    const within = new LimitedBody(source("abcd", "efgh").source, 6);
    expect(await read(within)).toBe("abcdef");
    expect(within.excess).toBe(true);
    const after = new LimitedBody(source("abc", "def", "", "g").source, 6);
    expect(await read(after)).toBe("abcdef");
    expect(after.excess).toBe(true);
  });

  it("closes the source at once on return(), even while a read is pending", async () => {
    const stalled = trackedSource([], { stall: true });
    const iterator = new LimitedBody(stalled.source, 10)[Symbol.asyncIterator]();
    void iterator.next();
    void iterator.return!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stalled.closed).toBe(true);
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
