import { ClientError } from "../errors.ts";

/** One `machine` (or `default`, name "") entry. */
interface Machine {
  password: string | undefined;
  /** Every other token (login, account, …), re-written in pairs. */
  other: string[];
}

/**
 * A netrc file as Attic edits it: tokens separated by spaces, tabs and newlines; entries keep
 * their order; passwords are replaced, other tokens kept.
 */
export class Netrc {
  private constructor(private readonly machines: Map<string, Machine>) {}

  /** Parses netrc text; a token outside any machine block is an error. */
  static parse(text: string): Netrc {
    const machines = new Map<string, Machine>();
    const tokens = text.split(/[ \t\n]+/).filter((t) => t !== "");
    let current: Machine | undefined;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token === "default" || token === "machine") {
        const name = token === "default" ? "" : (tokens[++i] ?? "");
        current = { password: undefined, other: [] };
        machines.set(name, current);
      } else if (token === "password") {
        if (!current) throw new ClientError("Password field outside a machine block");
        current.password = tokens[++i] ?? "";
      } else {
        if (!current) throw new ClientError(`Unknown token ${token} outside a machine block`);
        current.other.push(token);
      }
    }
    return new Netrc(machines);
  }

  /** Sets the password of `machine` (adding the entry when missing). */
  addToken(machine: string, token: string): void {
    const existing = this.machines.get(machine);
    if (existing) existing.password = token;
    else this.machines.set(machine, { password: token, other: [] });
  }

  /** The password of `machine`, if any. */
  password(machine: string): string | undefined {
    return this.machines.get(machine)?.password;
  }

  /** Serialises: `machine NAME` (or `default`), then `password TOKEN`, then other tokens in pairs. */
  toString(): string {
    let out = "";
    // `default` must come last: netrc readers stop matching at it.
    const entries = [...this.machines].sort(([a], [b]) => Number(a === "") - Number(b === ""));
    for (const [name, m] of entries) {
      out += name === "" ? "default\n" : `machine ${name}\n`;
      if (m.password !== undefined) out += `password ${m.password}\n`;
      for (let i = 0; i < m.other.length; i += 2) out += `${m.other.slice(i, i + 2).join(" ")}\n`;
    }
    return out;
  }
}
