import { describe, expect, it } from "vitest";
import { Netrc } from "../src/nix-conf/netrc.ts";

describe("netrc", () => {
  it("parses Attic's test input and round-trips it", () => {
    const netrc = Netrc.parse("default password hunter2 machine localhost login login password 114514");
    expect(netrc.password("localhost")).toBe("114514");
    expect(netrc.password("")).toBe("hunter2");
    const text = netrc.toString();
    expect(text).toBe("machine localhost\npassword 114514\nlogin login\ndefault\npassword hunter2\n");
    expect(Netrc.parse(text).toString()).toBe(text);
  });

  it("tokenizes across spaces, tabs and newlines", () => {
    const netrc = Netrc.parse("\n\nmachine\ta.example\n\n  login   me\tpassword\n\n secret \n");
    expect(netrc.password("a.example")).toBe("secret");
  });

  it("adds a machine, replaces an existing password and keeps other entries and tokens", () => {
    const netrc = Netrc.parse("machine a.example login u password old account acc\nmachine b.example password keep\n");
    netrc.addToken("a.example", "new");
    netrc.addToken("127.0.0.1", "tok");
    expect(netrc.toString()).toBe(
      "machine a.example\npassword new\nlogin u\naccount acc\nmachine b.example\npassword keep\nmachine 127.0.0.1\npassword tok\n",
    );
  });

  it("keeps default last when adding machines", () => {
    const netrc = Netrc.parse("default login anonymous password x\n");
    netrc.addToken("h", "t");
    expect(netrc.toString()).toBe("machine h\npassword t\ndefault\npassword x\nlogin anonymous\n");
  });

  it("rejects tokens outside a machine block", () => {
    expect(() => Netrc.parse("password x")).toThrow("Password field outside a machine block");
    expect(() => Netrc.parse("login x")).toThrow("Unknown token login outside a machine block");
  });
});
