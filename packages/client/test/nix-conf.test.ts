import { describe, expect, it } from "vitest";
import { CACHE_NIXOS_ORG_KEY, NixConf, formatNixConfLine, parseNixConfLine } from "../src/nix-conf/nix-conf.ts";

const SUB = "https://attic.example/main";
const KEY = "main:C929acssgtJoINkUtLbc81GFJPUW9maR77TxEu9ZpRw=";

describe("nix.conf lines (Attic's grammar)", () => {
  it("parses Attic's test lines and round-trips them byte for byte", () => {
    expect(parseNixConfLine("# some comment")).toEqual({ kind: "comment", text: "# some comment" });
    expect(parseNixConfLine("key = value")).toMatchObject({ kind: "kv", key: "key", value: "value", lead: "", beforeEq: " ", afterEq: " ", comment: "" });
    const wild = "\t 🔥🔥🔥very=WILD=key🔥🔥🔥 =\tvalue = #comment";
    expect(parseNixConfLine(wild)).toEqual({ kind: "kv", lead: "\t ", key: "🔥🔥🔥very=WILD=key🔥🔥🔥", beforeEq: " ", afterEq: "\t", value: "value = ", comment: "#comment" });
    for (const line of ["# some comment", "    # some indented comment", " \t\t \t \t\t  ", "", "key = value", wild]) {
      expect(formatNixConfLine(parseNixConfLine(line))).toBe(line);
    }
  });

  it("rejects lines outside the grammar", () => {
    for (const bad of ["key=value", "key =value", "key= value", "substituters =", "include /etc/other.conf", "!include foo", "justaword"]) {
      expect(() => parseNixConfLine(bad), bad).toThrow(`Line "${bad}" isn't valid`);
    }
  });
});

describe("editing nix.conf", () => {
  it("creates both lists with cache.nixos.org kept, in a new file ending in a newline", () => {
    const conf = NixConf.parse("");
    conf.addSubstituter(SUB);
    conf.addTrustedPublicKey(KEY);
    expect(conf.toString()).toBe(`substituters = ${SUB} https://cache.nixos.org\ntrusted-public-keys = ${KEY} ${CACHE_NIXOS_ORG_KEY}\n`);
  });

  it("prepends to existing entries and leaves comments, spacing and other lines alone", () => {
    const text = [
      "# my nix.conf",
      "",
      "  max-jobs   =  4   # parallel builds",
      "substituters =\thttps://cache.nixos.org  https://other.example   # mirrors",
      "\ttrusted-public-keys = other:abc=",
      "keep-outputs = true",
      "",
    ].join("\n");
    const conf = NixConf.parse(text);
    conf.addSubstituter(SUB);
    conf.addTrustedPublicKey(KEY);
    conf.setNetrcFile("/home/u/.config/nix/netrc");
    expect(conf.toString()).toBe(
      [
        "# my nix.conf",
        "",
        "  max-jobs   =  4   # parallel builds",
        `substituters =\t${SUB} https://cache.nixos.org https://other.example   # mirrors`,
        `\ttrusted-public-keys = ${KEY} other:abc=`,
        "keep-outputs = true",
        "netrc-file = /home/u/.config/nix/netrc",
        "",
      ].join("\n"),
    );
  });

  it("adds nothing twice", () => {
    const conf = NixConf.parse(`substituters = https://x ${SUB}\ntrusted-public-keys = ${KEY}\nnetrc-file = /old # was here`);
    const before = conf.toString();
    conf.addSubstituter(SUB);
    conf.addTrustedPublicKey(KEY);
    expect(conf.toString()).toBe(before);
    conf.setNetrcFile("/new");
    expect(conf.toString()).toBe(`substituters = https://x ${SUB}\ntrusted-public-keys = ${KEY}\nnetrc-file = /new # was here`);
    // Twice in a row from scratch too.
    const fresh = NixConf.parse("");
    fresh.addSubstituter(SUB);
    fresh.addSubstituter(SUB);
    expect(fresh.get("substituters")).toBe(`${SUB} https://cache.nixos.org`);
  });

  it("only edits the exact key (extra-substituters is another key)", () => {
    const conf = NixConf.parse("extra-substituters = https://x\n");
    conf.addSubstituter(SUB);
    expect(conf.toString()).toBe(`extra-substituters = https://x\nsubstituters = ${SUB} https://cache.nixos.org\n`);
  });

  it("refuses a file with an unparsable line", () => {
    expect(() => NixConf.parse("# fine\nsubstituters=https://x\n")).toThrow(`Line "substituters=https://x" isn't valid`);
  });
});
