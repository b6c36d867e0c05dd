import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { narInfoFingerprint, parseNarInfo, parsePublicKey, verifySignature } from "@attic-ts/core";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));

describe("examples/embedded", () => {
  it("ingests a store path and prints a narinfo signed by the cache key", async () => {
    const env = { ...process.env, NIX_CONFIG: "substituters =\nexperimental-features = nix-command\n" };
    const dir = fileURLToPath(new URL(".", import.meta.url));
    const { stdout: added } = await run("nix-store", ["--add", dir], { env });
    const storePath = added.trim();
    const { stdout } = await run("npx", ["tsx", "--tsconfig", "tsconfig.base.json", "--conditions=source", "examples/embedded/src/main.ts", storePath], { cwd: root, env });
    expect(stdout).toMatch(/^upload: \{"kind":"(Uploaded|Deduplicated)"/m);
    const narinfoText = stdout
      .split("\n")
      .filter((line) => /^(StorePath|URL|Compression|NarHash|NarSize|References|Deriver|Sig|CA):/.test(line))
      .join("\n");
    const narinfo = parseNarInfo(narinfoText);
    expect(narinfo.storePath).toBe(storePath);
    const key = /^public key: (.+)$/m.exec(stdout)?.[1];
    expect(key).toMatch(/^demo:/);
    expect(verifySignature(parsePublicKey(key!), narInfoFingerprint(narinfo), narinfo.sigs[0]!)).toBe(true);
  });
});
