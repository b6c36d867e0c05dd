import { describe, expect, it } from "vitest";
import { createRootContainer, createToken, inject, injectable, resolve } from "@attic-ts/core";

const GREETING = createToken<string>("greeting");

@injectable()
class Greeter {
  constructor(@inject(GREETING) readonly greeting: string) {}
}

describe("di", () => {
  it("injects through typed tokens in a child container", () => {
    const c = createRootContainer();
    c.registerInstance(GREETING, "hello");
    expect(c.resolve(Greeter).greeting).toBe("hello");
    expect(resolve(c, GREETING)).toBe("hello");
    const other = createRootContainer();
    expect(() => resolve(other, GREETING)).toThrow();
  });
});

describe("tokens", () => {
  it("are the same for the same name, so a second copy of core resolves the engine's bindings", () => {
    // What a plugin's own copy of @attic-ts/core would create for the same token.
    const again = createToken<string>("greeting");
    const c = createRootContainer();
    c.registerInstance(GREETING, "hello");
    expect(again).toBe(GREETING);
    expect(c.resolve<string>(again)).toBe("hello");
    expect(createToken<string>("other")).not.toBe(GREETING);
  });
});
