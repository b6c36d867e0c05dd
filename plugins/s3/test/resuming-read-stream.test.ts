import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ResumingReadStream } from "../src/resuming-read-stream.ts";
import type { FetchFrom, ObjectPart } from "../src/resuming-read-stream.ts";

const DATA = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const options = { maxResumes: 3, backoffMs: 1, label: "s3://b/k" };

/** A body serving DATA[start..], which fails (or just ends) after `deliver` bytes when given. */
function part(start: number, deliver?: number, mode: "error" | "end" = "error"): ObjectPart {
  async function* body(): AsyncGenerator<Buffer> {
    const end = deliver === undefined ? DATA.length : start + deliver;
    for (let at = start; at < end; at += 100) yield DATA.subarray(at, Math.min(at + 100, end));
    if (deliver !== undefined && mode === "error") throw new Error("socket hang up");
  }
  return { body: Readable.from(body(), { objectMode: false }), length: DATA.length - start, etag: '"e1"' };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("ResumingReadStream", () => {
  it("passes an unbroken body through untouched", async () => {
    const calls: number[] = [];
    const stream = new ResumingReadStream(part(0), async (start) => (calls.push(start), part(start)), options);
    expect((await readAll(stream)).equals(DATA)).toBe(true);
    expect(calls).toEqual([]);
  });

  for (const mode of ["error", "end"] as const) {
    it(`resumes from the received byte with the same ETag when the body ${mode === "error" ? "fails" : "ends early"}`, async () => {
      const calls: Array<[number, string | undefined]> = [];
      const fetchFrom: FetchFrom = async (start, etag) => {
        calls.push([start, etag]);
        return calls.length === 1 ? part(start, 250, mode) : part(start);
      };
      const stream = new ResumingReadStream(part(0, 330, mode), fetchFrom, options);
      expect((await readAll(stream)).equals(DATA)).toBe(true);
      expect(calls).toEqual([
        [330, '"e1"'],
        [580, '"e1"'],
      ]);
      expect(stream.resumes).toBe(2);
    });
  }

  it("errors with a StorageError once the resumes are used up, after only the bytes received", async () => {
    const stream = new ResumingReadStream(part(0, 100, "end"), async (start) => part(start, 100, "end"), options);
    const received: Buffer[] = [];
    const err = await (async () => {
      try {
        for await (const chunk of stream) received.push(chunk as Buffer);
      } catch (e) {
        return e as { code?: string; message: string };
      }
      throw new Error("the stream ended instead of failing");
    })();
    expect(err.code).toBe("StorageError");
    expect(err.message).toContain("3 resumes used");
    expect(Buffer.concat(received).equals(DATA.subarray(0, 400))).toBe(true);
  });

  it("fails when a resumed response has the wrong length or the resume request fails", async () => {
    const wrongLength = new ResumingReadStream(part(0, 100), async () => ({ ...part(0), length: DATA.length }), options);
    await expect(readAll(wrongLength)).rejects.toMatchObject({ code: "StorageError" });
    const refused = new ResumingReadStream(part(0, 100), async () => {
      throw Object.assign(new Error("At least one of the pre-conditions you specified did not hold"), { name: "PreconditionFailed" });
    }, options);
    await expect(readAll(refused)).rejects.toThrow(/could not resume at byte 100/);
  });

  it("without a known length, a broken body fails rather than resumes", async () => {
    const first = { ...part(0, 100), length: undefined };
    await expect(readAll(new ResumingReadStream(first, async (s) => part(s), options))).rejects.toThrow(/unknown length/);
  });

  it("destroying the stream aborts an in-flight resume request", async () => {
    let seen: AbortSignal | undefined;
    const stream = new ResumingReadStream(
      part(0, 100),
      (_start, _etag, signal) => {
        seen = signal;
        return new Promise<ObjectPart>(() => undefined);
      },
      options,
    );
    stream.on("data", () => undefined);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (seen) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    stream.destroy();
    expect(seen?.aborted).toBe(true);
  });
});
