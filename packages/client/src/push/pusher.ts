import type { ApiClient } from "../api/api-client.ts";
import { errorMessage } from "../errors.ts";
import type { PathInfo } from "../nix/nix-cli.ts";
import { uploadedDetail } from "./format.ts";
import type { PushProgress } from "./progress.ts";
import { toUploadInfo } from "./upload-info.ts";

/** Uploads one path; throws on failure. */
export type UploadOne = (info: PathInfo) => Promise<void>;

/**
 * Runs uploads with at most `jobs` in flight, in queue order (not topological, as Attic).
 * Failures are counted, not thrown, so one bad path does not stop the others.
 */
export class Pusher {
  private readonly queue: PathInfo[] = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  /** Paths that failed to upload. */
  readonly failures: Array<{ path: string; error: unknown }> = [];
  /** Paths uploaded (or deduplicated) successfully. */
  succeeded = 0;

  constructor(
    private readonly upload: UploadOne,
    private readonly jobs: number,
  ) {
    if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError("The number of jobs cannot be 0");
  }

  /** Queues a path. */
  push(info: PathInfo): void {
    this.queue.push(info);
    this.pump();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.jobs && this.queue.length > 0) {
      const info = this.queue.shift()!;
      this.running++;
      void this.upload(info)
        .then(
          () => void this.succeeded++,
          (error: unknown) => void this.failures.push({ path: info.path, error }),
        )
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
          }
        });
    }
  }
}

/** Options of {@link uploadWithProgress}. */
export interface UploadOptions {
  api: ApiClient;
  cache: string;
  progress: PushProgress;
  forcePreamble: boolean;
  /** The NAR of a path as a stream (e.g. `nix-store --dump`). */
  dumpNar(path: string): AsyncIterable<Uint8Array>;
}

/**
 * Uploads one path, streaming its NAR through a byte counter into the request body, and prints
 * Attic's `✅ {path} ({detail})` or `❌ {path}: {error}` line.
 */
export function uploadWithProgress(options: UploadOptions): UploadOne {
  return async (info) => {
    const bar = options.progress.startPath(info.path, info.narSize);
    const started = Date.now();
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of options.dumpNar(info.path)) {
        bar.advance(chunk.length);
        yield chunk;
      }
    }
    const body = counted();
    try {
      const result = await options.api.uploadPath(toUploadInfo(options.cache, info), body, options.forcePreamble);
      const kind = result?.kind === "Deduplicated" ? "Deduplicated" : "Uploaded";
      const frac = kind === "Deduplicated" ? 1 : (result?.frac_deduplicated ?? 0);
      bar.finish(`✅ ${info.path} (${uploadedDetail(kind, info.narSize, Date.now() - started, result?.frac_deduplicated)})`, info.narSize * frac);
    } catch (err) {
      bar.fail(`❌ ${info.path}: ${errorMessage(err)}`);
      throw err;
    } finally {
      // If the server answered before reading the whole NAR, the HTTP client may drop the
      // body unfinished: closing it kills `nix-store --dump` instead of leaving it blocked.
      void body.return(undefined).catch(() => {});
    }
  };
}
