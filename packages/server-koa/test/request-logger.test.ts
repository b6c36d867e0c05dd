import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Logger, LogLevel } from "@attic-ts/core";
import { RequestLogger } from "../src/http/request-logger.ts";

/** Real pino writing JSON lines into `lines`, with `children` counting the child loggers made. */
function pinoInto(level: LogLevel): { logger: Logger; lines: Record<string, unknown>[]; children: () => number } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const base = pino({ level }, sink);
  let made = 0;
  const counting: Logger = {
    debug: (obj, msg) => base.debug(obj, msg),
    info: (obj, msg) => base.info(obj, msg),
    warn: (obj, msg) => base.warn(obj, msg),
    error: (obj, msg) => base.error(obj, msg),
    isLevelEnabled: (l) => base.isLevelEnabled(l),
    child: (bindings) => {
      made++;
      return base.child(bindings);
    },
  };
  return { logger: counting, lines, children: () => made };
}

describe("RequestLogger", () => {
  it("makes no child while nothing reaches the parent's level", () => {
    const { logger, lines, children } = pinoInto("info");
    const log = new RequestLogger(logger, { reqId: "r1" });
    log.debug("dropped");
    log.debug({ a: 1 }, "dropped too");
    expect(log.isLevelEnabled("debug")).toBe(false);
    expect(log.isLevelEnabled("info")).toBe(true);
    expect(children()).toBe(0);
    expect(lines).toEqual([]);
  });

  it("makes one child on the first message written, carrying the bindings, and reuses it", () => {
    const { logger, lines, children } = pinoInto("info");
    const log = new RequestLogger(logger, { reqId: "r2" });
    log.info({ status: 200 }, "first");
    log.warn("second");
    log.error({ err: new Error("boom") }, "third");
    log.debug("dropped by the child's level");
    expect(children()).toBe(1);
    expect(lines.map((l) => [l.level, l.msg, l.reqId])).toEqual([
      [30, "first", "r2"],
      [40, "second", "r2"],
      [50, "third", "r2"],
    ]);
    expect(lines[0]!.status).toBe(200);
    expect((lines[2]!.err as { message: string }).message).toBe("boom");
  });

  it("writes debug messages when the parent's level allows them", () => {
    const { logger, lines } = pinoInto("debug");
    new RequestLogger(logger, { reqId: "r3" }).debug({ ms: 4 }, "request finished");
    expect(lines.map((l) => [l.level, l.msg, l.reqId, l.ms])).toEqual([[20, "request finished", "r3", 4]]);
  });

  it("child() binds onto the request's bindings", () => {
    const { logger, lines } = pinoInto("info");
    new RequestLogger(logger, { reqId: "r5" }).child({ cache: "c" }).info("scoped");
    expect(lines.map((l) => [l.msg, l.reqId, l.cache])).toEqual([["scoped", "r5", "c"]]);
  });

  it("a parent without isLevelEnabled gets its child on the first message of any level", () => {
    const made: Record<string, unknown>[] = [];
    const written: string[] = [];
    const parent: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      child: (bindings) => {
        made.push(bindings);
        return { ...parent, debug: (obj) => written.push(`debug ${String(obj)}`) };
      },
    };
    const log = new RequestLogger(parent, { reqId: "r6" });
    expect(log.isLevelEnabled("debug")).toBe(true);
    log.debug("x");
    log.debug("y");
    expect(made).toEqual([{ reqId: "r6" }]);
    expect(written).toEqual(["debug x", "debug y"]);
  });
});
