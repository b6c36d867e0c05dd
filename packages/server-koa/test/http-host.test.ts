import { describe, expect, it } from "vitest";
import { noopLogger, type Logger } from "@attic-ts/core";
import { startHttpHost } from "../src/cli/http-host.ts";

/** A logger that keeps its error lines, to see which handler failures were reported. */
function recordingLogger(): { logger: Logger; errors: unknown[] } {
  const errors: unknown[] = [];
  const logger: Logger = { ...noopLogger, error: (fields: unknown) => void errors.push(fields) };
  return { logger, errors };
}

describe("startHttpHost", () => {
  it("waits at shutdown for a handler still running after its response was sent", async () => {
    let finished = false;
    const host = await startHttpHost(
      async (_req, res) => {
        res.end("ok");
        // Cleanup that outlives the response, as an aborted upload's does.
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished = true;
      },
      { host: "127.0.0.1", port: 0 },
      { logger: noopLogger, graceMs: 5_000 },
    );
    const res = await fetch(`${host.url}/`);
    expect(await res.text()).toBe("ok");
    await host.shutdown();
    expect(finished).toBe(true);
  });

  it("logs a handler that throws or rejects, and still shuts down", async () => {
    const { logger, errors } = recordingLogger();
    let calls = 0;
    const host = await startHttpHost(
      (_req, res) => {
        calls++;
        res.end("answered");
        if (calls === 1) throw new Error("thrown");
        return Promise.reject(new Error("rejected"));
      },
      { host: "127.0.0.1", port: 0 },
      { logger, graceMs: 5_000 },
    );
    expect(await (await fetch(`${host.url}/a`)).text()).toBe("answered");
    expect(await (await fetch(`${host.url}/b`)).text()).toBe("answered");
    await host.shutdown();
    expect(errors.map((e) => ((e as { err: Error }).err).message)).toEqual(["thrown", "rejected"]);
  });

  it("shuts down at once with no handler running, also for a handler that returns no promise", async () => {
    const host = await startHttpHost((_req, res) => void res.end("sync"), { host: "127.0.0.1", port: 0 }, { logger: noopLogger, graceMs: 60_000 });
    expect(await (await fetch(`${host.url}/`)).text()).toBe("sync");
    const started = performance.now();
    await host.shutdown();
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
