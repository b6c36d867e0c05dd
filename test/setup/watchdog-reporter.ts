import type { Reporter, TestCase, TestModule } from "vitest/node";

/**
 * Names what is taking long while it takes long. A test blocked in a synchronous call (a child
 * run with execFileSync, say) never reaches its own timeout, so the run would just go quiet;
 * this reporter runs in vitest's main process and, every minute, prints each test file that
 * has been running for more than `ATTIC_TS_WATCHDOG_MINUTES` (default 4) with the test it is
 * in. scripts/test.sh bounds the whole run; these lines say where it was when it stopped.
 */
interface Running {
  readonly label: string;
  readonly since: number;
  test?: { name: string; since: number };
}

const CHECK_EVERY_MS = 60_000;

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

export default class WatchdogReporter implements Reporter {
  readonly #running = new Map<string, Running>();
  readonly #thresholdMs = Number(process.env.ATTIC_TS_WATCHDOG_MINUTES ?? 4) * 60_000;
  #timer: NodeJS.Timeout | undefined;

  onTestRunStart(): void {
    this.#timer = setInterval(() => this.#report(), CHECK_EVERY_MS);
    this.#timer.unref();
  }

  onTestModuleStart(module: TestModule): void {
    this.#running.set(module.moduleId, { label: `${module.project.name}: ${module.relativeModuleId}`, since: Date.now() });
  }

  onTestCaseReady(test: TestCase): void {
    const running = this.#running.get(test.module.moduleId);
    if (running) running.test = { name: test.fullName, since: Date.now() };
  }

  onTestModuleEnd(module: TestModule): void {
    this.#running.delete(module.moduleId);
  }

  onTestRunEnd(): void {
    clearInterval(this.#timer);
    this.#running.clear();
  }

  #report(): void {
    const now = Date.now();
    for (const running of this.#running.values()) {
      if (now - running.since < this.#thresholdMs) continue;
      // A worker blocked in a synchronous call cannot report the test it entered, so "none" may
      // also mean the first test.
      const test = running.test ? `; last test started: "${running.test.name}", ${minutes(now - running.test.since)} ago` : "; no test reported started yet";
      process.stderr.write(`[watchdog] ${running.label} has run for ${minutes(now - running.since)}${test}\n`);
    }
  }
}
