import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readAtticdShebang } from "../../../scripts/atticd-shebang.mjs";

/**
 * atticd's runtime settings (node flags, malloc environment) are read by V8 and glibc only at
 * start-up, so each way of starting it names them itself: the shebang of `bin/atticd.js`,
 * `npm start` (scripts/start.sh) and the Nix wrapper (nixos/package.nix). A flag added to one
 * and forgotten in another changes the server's memory and latency without any test noticing,
 * so this test holds the three to the same list.
 */
const REPO = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const read = (path: string): string => readFileSync(join(REPO, path), "utf8");

/** `export NAME="${NAME:-value}"` defaults and the flags of `exec node ... atticd.js`. */
function fromStartScript(): { env: Record<string, string>; flags: string[] } {
  const script = read("scripts/start.sh");
  const env = Object.fromEntries([...script.matchAll(/^export (\w+)="\$\{\1:-([^}]*)\}"$/gm)].map((m) => [m[1]!, m[2]!]));
  const exec = /^exec node (.*) packages\/server-koa\/bin\/atticd\.js/m.exec(script);
  expect(exec).not.toBeNull();
  return { env, flags: exec![1]!.trim().split(/\s+/) };
}

/** `nodeFlags.atticd` and the `--set-default NAME value` pairs of `wrapperEnv.atticd`. */
function fromNixPackage(): { env: Record<string, string>; flags: string[] } {
  const nix = read("nixos/package.nix");
  const flags = /nodeFlags = \{\s*atticd = "([^"]*)";/.exec(nix);
  const env = /wrapperEnv = \{\s*atticd = "([^"]*)";/.exec(nix);
  expect(flags).not.toBeNull();
  expect(env).not.toBeNull();
  const pairs = [...env![1]!.matchAll(/--set-default (\w+) (\S+)/g)].map((m) => [m[1]!, m[2]!]);
  return { env: Object.fromEntries(pairs), flags: flags![1]!.trim().split(/\s+/) };
}

describe("atticd launchers", () => {
  const { line, ...shebang } = readAtticdShebang();

  it("the shebang sets the young-generation cap, no allocation-site pretenuring, the heap growing factor and the malloc settings", () => {
    expect(shebang.flags).toEqual(expect.arrayContaining(["--max-semi-space-size=4", "--no-allocation-site-pretenuring", "--heap-growing-percent=20"]));
    expect(shebang.env).toEqual({ MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "65536" });
  });

  it("npm start passes the shebang's flags and environment", () => {
    expect(fromStartScript()).toEqual(shebang);
  });

  it("the Nix wrapper passes the shebang's flags and environment", () => {
    expect(fromNixPackage()).toEqual(shebang);
  });

  it("the shebang fits the kernel's 255-byte limit for #! lines", () => {
    // Linux (since 5.1) reads at most 256 bytes of a #! line; a longer one is cut silently.
    expect(Buffer.byteLength(line)).toBeLessThan(256);
  });
});
