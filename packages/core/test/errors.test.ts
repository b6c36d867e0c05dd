import { describe, expect, it } from "vitest";
import { AccessError, isAtticError, NoSuchCacheError, NoSuchObjectError, NotFoundError, RequestError } from "../src/errors.ts";

function throwFromHere(make: () => Error): Error {
  try {
    throw make();
  } catch (err) {
    return err as Error;
  }
}

describe("AtticError stack traces", () => {
  it("captures none for the 404 answers, and restores the process's limit", () => {
    const before = Error.stackTraceLimit;
    for (const make of [() => new NoSuchObjectError(), () => new NoSuchCacheError(), () => new NotFoundError()]) {
      const err = throwFromHere(make);
      expect(err.stack).toBe(`${err.name}: ${err.message}`);
      expect(isAtticError(err)).toBe(true);
    }
    expect(Error.stackTraceLimit).toBe(before);
    // The discovery flag still passes through.
    expect(new NoSuchCacheError({ discoveryPermission: false }).discoveryPermission).toBe(false);
  });

  it("keeps them for failures", () => {
    for (const make of [() => new RequestError("bad"), () => new AccessError("no")]) {
      const err = throwFromHere(make);
      expect(err.stack?.split("\n").length).toBeGreaterThan(1);
      expect(err.stack).toContain("throwFromHere");
    }
  });
});
