import type { CacheConfigView } from "../api/api-types.ts";
import type { OpenedCache } from "../commands/context.ts";
import { errorMessage } from "../errors.ts";
import type { CliIo } from "../io.ts";
import type { NixCli, PathInfo } from "../nix/nix-cli.ts";
import { PlainProgress, TtyProgress, type PushProgress } from "./progress.ts";
import { planPush, type PushPlan } from "./push-plan.ts";
import { PushSession, type PushSessionTiming } from "./push-session.ts";
import { Pusher, uploadWithProgress } from "./pusher.ts";

/** Flags shared by `push` and `watch-store`. */
export interface PushFlags {
  noClosure: boolean;
  ignoreUpstreamCacheFilter: boolean;
  jobs: number;
  forcePreamble: boolean;
}

/**
 * Everything one push command needs wired together: the progress output, the upload workers,
 * and planning against the cache's config (upstream key names) through the API endpoint the
 * cache names.
 */
export class PushRunner {
  readonly progress: PushProgress;
  readonly pusher: Pusher;
  /** Errors outside single uploads (planning a batch, reading a path). */
  readonly errors: unknown[] = [];

  constructor(
    private readonly io: CliIo,
    private readonly nix: NixCli,
    private readonly opened: OpenedCache,
    private readonly config: CacheConfigView,
    private readonly flags: PushFlags,
  ) {
    this.progress = io.isTTY ? new TtyProgress(io.stderr) : new PlainProgress(io.stderr);
    this.pusher = new Pusher(
      uploadWithProgress({
        api: opened.api,
        cache: opened.cache,
        progress: this.progress,
        forcePreamble: flags.forcePreamble,
        dumpNar: (path) => nix.dumpNar(path),
      }),
      flags.jobs,
    );
  }

  /** Plans pushing `roots` (only valid ones when `onlyValid`). */
  async plan(roots: string[], onlyValid = false): Promise<PushPlan> {
    const valid = onlyValid ? await this.nix.validPaths(roots) : roots;
    return planPush(
      valid,
      {
        pathInfo: (paths, recursive) => this.nix.pathInfo(paths, recursive),
        getMissingPaths: (hashes) => this.opened.api.getMissingPaths(this.opened.cache, hashes),
      },
      {
        noClosure: this.flags.noClosure,
        ignoreUpstreamCacheFilter: this.flags.ignoreUpstreamCacheFilter,
        upstreamCacheKeyNames: this.config.upstream_cache_key_names ?? [],
      },
    );
  }

  /** Attic's summary line for a plan with paths to push. */
  summary(count: number, plan: PushPlan): string {
    return `⚙️ Pushing ${count} paths to "${this.opened.cache}" on "${this.opened.serverName}" (${plan.numAlreadyCached} already cached, ${plan.numUpstream} in upstream)...`;
  }

  /** Queues planned paths for upload. */
  enqueue(paths: PathInfo[]): void {
    this.progress.plan(paths.length, paths.reduce((n, p) => n + p.narSize, 0));
    for (const info of paths) this.pusher.push(info);
  }

  /** A session that plans batches of arriving paths and uploads what they need. */
  session(timing?: PushSessionTiming, onlyValid = false): PushSession {
    return new PushSession(
      {
        plan: (roots) => this.plan(roots, onlyValid),
        push: (paths, plan) => {
          if (paths.length === 0) return;
          this.progress.log(this.summary(paths.length, plan));
          this.enqueue(paths);
        },
        error: (err) => this.fail(err),
      },
      timing,
    );
  }

  /** Records and prints an error that is not one upload's. */
  fail(err: unknown): void {
    this.errors.push(err);
    this.progress.log(`❌ ${errorMessage(err)}`);
  }

  /** Waits for the uploads, removes the bars, and throws the first error if anything failed. */
  async finish(): Promise<void> {
    await this.pusher.idle();
    this.progress.stop();
    const first = this.errors[0] ?? this.pusher.failures[0]?.error;
    if (first !== undefined) {
      const failed = this.pusher.failures.length;
      if (failed > 1) this.progress.log(`${failed} paths failed to push`);
      throw first;
    }
  }
}
