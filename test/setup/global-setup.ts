import { requireNix } from "../helpers/nix.ts";

/**
 * Runs once before the e2e project: the suites need the real Nix CLI. A missing tool fails the
 * run here with the command that installs it, rather than as a skip.
 */
export default async function setup(): Promise<void> {
  await requireNix();
}
