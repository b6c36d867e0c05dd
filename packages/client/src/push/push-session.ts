import type { PathInfo } from "../nix/nix-cli.ts";
import { storePathHash, type PushPlan } from "./push-plan.ts";

/** Batching windows of a {@link PushSession}, in milliseconds. */
export interface PushSessionTiming {
  /** Flush once no path has arrived for this long (Attic: 2 s). */
  idleMs: number;
  /** Flush at the latest this long after a batch's first path (Attic: 10 s). */
  maxMs: number;
}

export const ATTIC_SESSION_TIMING: PushSessionTiming = { idleMs: 2_000, maxMs: 10_000 };

/** What a session does with a batch. */
export interface PushSessionHandlers {
  /** Plans a batch of roots (closure, upstream filter, missing paths). */
  plan(roots: string[]): Promise<PushPlan>;
  /** Receives the plan's paths not pushed by this session before (may be empty). */
  push(paths: PathInfo[], plan: PushPlan): void;
  /** A batch failed to plan; the session goes on with the next one. */
  error(err: unknown, roots: string[]): void;
}

/**
 * Accepts store paths as they arrive (from stdin or a store watcher) and plans them in batches,
 * as Attic's `PushSession`: a batch is flushed after `idleMs` without new paths or `maxMs` after
 * it started, whichever comes first. Paths pushed by the session are remembered, so a root or
 * closure member already pushed is neither planned nor pushed again. Batches are planned one at
 * a time, in order.
 */
export class PushSession {
  private readonly pending = new Set<string>();
  private readonly known = new Set<string>();
  private idleTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Number of batches flushed so far (for tests and logs). */
  batches = 0;

  constructor(
    private readonly handlers: PushSessionHandlers,
    private readonly timing: PushSessionTiming = ATTIC_SESSION_TIMING,
  ) {}

  /** Queues store paths (full paths). */
  queue(paths: string[]): void {
    for (const p of paths) this.pending.add(p);
    if (this.pending.size === 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.flush(), this.timing.idleMs);
    this.maxTimer ??= setTimeout(() => this.flush(), this.timing.maxMs);
  }

  /** Flushes what is pending and waits until every batch has been planned and handed over. */
  async close(): Promise<void> {
    this.flush();
    await this.chain;
  }

  private flush(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.maxTimer);
    this.idleTimer = this.maxTimer = undefined;
    if (this.pending.size === 0) return;
    const roots = [...this.pending];
    this.pending.clear();
    this.batches++;
    this.chain = this.chain.then(() => this.runBatch(roots));
  }

  private async runBatch(batch: string[]): Promise<void> {
    const roots = batch.filter((r) => !this.known.has(storePathHash(r)));
    if (roots.length === 0) return;
    try {
      const plan = await this.handlers.plan(roots);
      const fresh: PathInfo[] = [];
      for (const [hash, info] of plan.paths) {
        if (this.known.has(hash)) continue;
        this.known.add(hash);
        fresh.push(info);
      }
      this.handlers.push(fresh, plan);
    } catch (err) {
      this.handlers.error(err, roots);
    }
  }
}
