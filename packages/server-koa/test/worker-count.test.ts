import { describe, expect, it } from "vitest";
import { ConfigError } from "@attic-ts/core";
import { httpWorkerCount } from "../src/cli/worker-count.ts";

describe("httpWorkerCount (ATTIC_TS_WORKERS)", () => {
  it("is 1 when unset or empty", () => {
    expect(httpWorkerCount({}, 8)).toBe(1);
    expect(httpWorkerCount({ ATTIC_TS_WORKERS: " " }, 8)).toBe(1);
  });

  it("takes a whole number, and auto as the number of cores", () => {
    expect(httpWorkerCount({ ATTIC_TS_WORKERS: "3" }, 8)).toBe(3);
    expect(httpWorkerCount({ ATTIC_TS_WORKERS: "auto" }, 8)).toBe(8);
    expect(httpWorkerCount({ ATTIC_TS_WORKERS: "256" }, 8)).toBe(256);
  });

  it.each(["0", "-1", "1.5", "2x", "two", "257", "0x2"])("rejects %j, naming the variable", (text) => {
    const run = () => httpWorkerCount({ ATTIC_TS_WORKERS: text }, 8);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(`ATTIC_TS_WORKERS: expected "auto" or a whole number of processes from 1 to 256, got "${text}"`);
  });
});
