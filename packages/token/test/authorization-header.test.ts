import { describe, expect, it } from "vitest";
import { tokenFromAuthorizationHeader } from "@attic-ts/token";

const basic = (userPass: string | Buffer) => `Basic ${Buffer.from(userPass).toString("base64")}`;

describe("tokenFromAuthorizationHeader", () => {
  // Attic's token/src/util.rs tests.
  it("takes the Basic password", () => {
    expect(tokenFromAuthorizationHeader("Basic c29tZXVzZXI6c29tZXBhc3M=")).toBe("somepass");
  });

  it("matches the scheme case-insensitively", () => {
    expect(tokenFromAuthorizationHeader("baSIC c29tZXVzZXI6c29tZXBhc3M=")).toBe("somepass");
    expect(tokenFromAuthorizationHeader("bearer some-token")).toBe("some-token");
    expect(tokenFromAuthorizationHeader("BEARER some-token")).toBe("some-token");
  });

  it("returns the Bearer rest verbatim", () => {
    expect(tokenFromAuthorizationHeader("Bearer a.b.c")).toBe("a.b.c");
    expect(tokenFromAuthorizationHeader("Bearer ")).toBe("");
    expect(tokenFromAuthorizationHeader("Bearer  two-spaces")).toBe(" two-spaces");
  });

  it("splits Basic at the first colon and ignores the username", () => {
    expect(tokenFromAuthorizationHeader(basic(":tok"))).toBe("tok");
    expect(tokenFromAuthorizationHeader(basic("user:pa:ss"))).toBe("pa:ss");
    expect(tokenFromAuthorizationHeader(basic("user:"))).toBe("");
  });

  it.each([
    ["no colon", basic("justuser")],
    ["invalid base64", "Basic !!!!"],
    ["unpadded base64", "Basic c29tZXVzZXI6c29tZXBhc3M"],
    ["non-UTF-8 credentials", basic(Buffer.from([0x75, 0x3a, 0xc3, 0x28]))],
    ["other scheme", "Token abc"],
    ["no space", "Bearerabc"],
    ["tab instead of space", "Bearer\tabc"],
    ["scheme only", "Bearer"],
    ["leading space", " Bearer abc"],
    ["newline in value", "Bearer a\nb"],
    ["empty", ""],
    ["undefined", undefined],
  ])("returns null for %s", (_label, value) => {
    expect(tokenFromAuthorizationHeader(value)).toBeNull();
  });
});
