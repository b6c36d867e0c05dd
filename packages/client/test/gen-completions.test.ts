import { execFileSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../src/main.ts";

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (d: Buffer) => out.push(d));
  stderr.on("data", (d: Buffer) => err.push(d));
  const code = await main(argv, {}, { stdin: new PassThrough(), stdout, stderr, isTTY: false });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** What real bash completes for the words typed so far (the last one being completed). */
function bashComplete(script: string, words: string[]): string[] {
  const program = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _attic; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync("bash", ["-c", program], { encoding: "utf8", timeout: 60_000 }).split("\n").filter(Boolean).sort();
}

describe("attic gen-completions", () => {
  it("bash: completes commands, subcommands and each command's own options", async () => {
    const { code, stdout } = await run(["gen-completions", "bash"]);
    expect(code).toBe(0);
    expect(bashComplete(stdout, ["attic", ""])).toEqual(["--help", "-h", "cache", "gen-completions", "login", "push", "use", "watch-store"].sort());
    expect(bashComplete(stdout, ["attic", "cache", "c"])).toEqual(["configure", "create"]);
    expect(bashComplete(stdout, ["attic", "cache", "configure", "mycache", "--re"])).toEqual(["--regenerate-keypair", "--reset-retention-period", "--retention-period"]);
    expect(bashComplete(stdout, ["attic", "push", "mycache", "--no"])).toEqual(["--no-closure"]);
    expect(bashComplete(stdout, ["attic", "gen-completions", ""])).toEqual(["--help", "-h", "bash", "fish", "zsh"].sort());
    // Hidden commands and flags stay hidden, as in --help.
    expect(stdout).not.toContain("get-closure");
    expect(stdout).not.toContain("force-preamble");
  });

  it("zsh wraps the bash function; fish has a line per command and option", async () => {
    const zsh = (await run(["gen-completions", "zsh"])).stdout;
    expect(zsh.startsWith("#compdef attic\n")).toBe(true);
    expect(zsh).toContain("bashcompinit");
    const fish = (await run(["gen-completions", "fish"])).stdout;
    expect(fish).toContain("complete -c attic -n '__fish_use_subcommand' -a cache");
    expect(fish).toContain("complete -c attic -n '__fish_seen_subcommand_from cache; and __fish_seen_subcommand_from configure' -l retention-period");
  });

  it("refuses an unknown shell with a usage error", async () => {
    const { code, stderr } = await run(["gen-completions", "powershell"]);
    expect(code).toBe(2);
    expect(stderr).toContain("powershell");
  });
});
