import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** One unit of work: compress `data` as `type` at `level`. */
export interface PoolJob {
  /** Codec name understood by the worker (`zstd`, `xz`). */
  type: string;
  level: number;
  data: Uint8Array;
}

/**
 * Jobs with at most this many input bytes go through the worker's shared memory (default 1 MiB,
 * which holds any chunk of Attic's default template, max 256 KiB). See `WorkerPool`.
 */
export const DEFAULT_SHARED_BYTES = 1024 * 1024;

/** Output room for a shared job: zstd's compressBound(input) is input + input/256 + a little. */
function sharedOutputBytes(input: number): number {
  return input + (input >>> 8) + 64 * 1024;
}

export interface RunOptions {
  /** Rejects the job: a queued job is dropped, a running one finishes and its result is discarded. */
  signal?: AbortSignal | undefined;
  /**
   * Lets the pool move `data.buffer` to the worker instead of copying it (done for jobs too
   * large for the shared memory). The caller's buffer may be detached afterwards, so only pass
   * true for a buffer nobody else holds.
   */
  transfer?: boolean | undefined;
  /**
   * Where a result the worker wrote into the shared memory is copied out to (default a new
   * Buffer); see `CompressOptions.allocate`.
   */
  allocate?: ((length: number) => Uint8Array) | undefined;
}

export interface WorkerPoolOptions {
  /** Number of worker threads; default `os.availableParallelism()`. */
  size?: number | undefined;
  /**
   * Jobs waiting for a worker before `run` itself waits for room (backpressure); default 8 × size.
   * Bounds the memory the pool holds on behalf of all callers together.
   */
  maxQueued?: number | undefined;
  /** The worker script; default the compress worker. Tests substitute failing workers. */
  workerUrl?: URL | undefined;
  /**
   * Input bytes of a job that go through the worker's shared memory instead of a message
   * (0 turns it off). Each worker then holds one SharedArrayBuffer of about twice this size.
   * Default DEFAULT_SHARED_BYTES with the compress worker, 0 with a `workerUrl` of one's own
   * (the worker must then read `workerData.shared`, as compress-worker.mjs does).
   */
  sharedBytes?: number | undefined;
}

/** Raised for jobs submitted to, or still pending in, a closed pool. */
export class WorkerPoolClosedError extends Error {
  constructor() {
    super("The compression worker pool is closed.");
    this.name = "WorkerPoolClosedError";
  }
}

interface PendingJob {
  id: number;
  job: PoolJob;
  transfer: boolean;
  allocate: ((length: number) => Uint8Array) | undefined;
  resolve: (bytes: Uint8Array) => void;
  reject: (err: unknown) => void;
  /** Set once the caller has been answered (abort, close); a late result is then dropped. */
  settled: boolean;
  cleanup: () => void;
}

interface Slot {
  worker: Worker;
  current: PendingJob | undefined;
  dead: boolean;
  /** This worker's shared input region (`sharedBytes`), and its output region after it. */
  input: Uint8Array | undefined;
  output: Uint8Array | undefined;
}

/**
 * A job's answer: the output bytes (moved), the length of the output the worker wrote into
 * the shared output region, or the error.
 */
type WorkerReply =
  | { id: number; ok: true; data: Uint8Array }
  | { id: number; ok: true; sharedLength: number }
  | { id: number; ok: false; message: string };

/**
 * The compress worker's URL. From `src/` (Vitest, tsx) it sits beside this module; from `dist/`
 * it is the copy under `../src/`, because tsc does not emit `.mjs` sources and the package ships
 * `src/` anyway.
 */
export function defaultWorkerUrl(): URL {
  const beside = new URL("./compress-worker.mjs", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL("../src/compress-worker.mjs", import.meta.url);
}

/**
 * A fixed-size pool of worker threads running one job each at a time. Workers start on demand,
 * are unref'd while idle (an idle pool never keeps the process alive) and ref'd while busy (an
 * awaited job does). A worker that crashes rejects its job and is replaced on the next job.
 *
 * Small jobs (every chunk of a chunked upload) travel through one SharedArrayBuffer per
 * worker: the input is copied in, the worker compresses into the output region, and the
 * result is copied out, so the messages carry no buffers. With a buffer per message, each
 * worker's heap held 10-30 MiB of received and sent ArrayBuffers between its collections,
 * which was most of the server's peak RSS during a zstd upload (BENCHMARKS.md).
 */
export class WorkerPool {
  readonly size: number;
  readonly #maxQueued: number;
  readonly #workerUrl: URL;
  readonly #slots = new Set<Slot>();
  readonly #idle: Slot[] = [];
  readonly #queue: PendingJob[] = [];
  readonly #roomWaiters: Array<() => void> = [];
  #nextId = 1;
  #closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? availableParallelism()));
    this.#maxQueued = Math.max(1, options.maxQueued ?? 8 * this.size);
    this.#workerUrl = options.workerUrl ?? defaultWorkerUrl();
    this.#sharedBytes = Math.max(0, Math.floor(options.sharedBytes ?? (options.workerUrl ? 0 : DEFAULT_SHARED_BYTES)));
  }

  readonly #sharedBytes: number;

  /** Live worker threads (started lazily, at most `size`). */
  get workerCount(): number {
    return this.#slots.size;
  }

  /** Workers currently running a job (including jobs whose caller already gave up). */
  get busyCount(): number {
    let busy = 0;
    for (const slot of this.#slots) if (slot.current !== undefined) busy++;
    return busy;
  }

  /** Jobs waiting for a worker. */
  get queuedCount(): number {
    return this.#queue.length;
  }

  /** Runs one job on a worker and resolves with its output bytes. */
  async run(job: PoolJob, options: RunOptions = {}): Promise<Uint8Array> {
    const { signal } = options;
    while (this.#queue.length >= this.#maxQueued && !this.#closed) await this.#waitForRoom(signal);
    if (this.#closed) throw new WorkerPoolClosedError();
    signal?.throwIfAborted();

    return new Promise<Uint8Array>((resolve, reject) => {
      const pending: PendingJob = {
        id: this.#nextId++,
        job,
        transfer: options.transfer ?? false,
        allocate: options.allocate,
        settled: false,
        resolve: (bytes) => {
          if (pending.settled) return;
          pending.settled = true;
          pending.cleanup();
          resolve(bytes);
        },
        reject: (err) => {
          if (pending.settled) return;
          pending.settled = true;
          pending.cleanup();
          reject(err);
        },
        cleanup: () => {},
      };
      if (signal) {
        const onAbort = (): void => {
          const index = this.#queue.indexOf(pending);
          if (index >= 0) {
            this.#queue.splice(index, 1);
            this.#wakeOne();
          }
          pending.reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.#queue.push(pending);
      this.#dispatch();
    });
  }

  /** Terminates every worker and rejects queued and running jobs. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new WorkerPoolClosedError();
    for (const pending of this.#queue.splice(0)) pending.reject(error);
    for (const wake of this.#roomWaiters.splice(0)) wake();
    const terminations: Array<Promise<number>> = [];
    for (const slot of this.#slots) {
      slot.dead = true;
      slot.current?.reject(error);
      terminations.push(slot.worker.terminate());
    }
    this.#slots.clear();
    this.#idle.length = 0;
    await Promise.all(terminations);
  }

  #waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const index = this.#roomWaiters.indexOf(wake);
        if (index >= 0) this.#roomWaiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#roomWaiters.push(wake);
    });
  }

  #wakeOne(): void {
    this.#roomWaiters.shift()?.();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#idle.pop() ?? (this.#slots.size < this.size ? this.#spawn() : undefined);
      if (slot === undefined) return;
      const pending = this.#queue.shift() as PendingJob;
      this.#wakeOne();
      slot.current = pending;
      slot.worker.ref();
      const { type, level, data } = pending.job;
      if (slot.input !== undefined && data.byteLength <= slot.input.byteLength) {
        slot.input.set(data);
        slot.worker.postMessage({ id: pending.id, type, level, sharedLength: data.byteLength });
      } else {
        slot.worker.postMessage({ id: pending.id, type, level, data }, pending.transfer ? [data.buffer as ArrayBuffer] : []);
      }
    }
  }

  #spawn(): Slot {
    const shared = this.#sharedBytes > 0 ? new SharedArrayBuffer(this.#sharedBytes + sharedOutputBytes(this.#sharedBytes)) : undefined;
    const worker = new Worker(this.#workerUrl, { workerData: { shared, inputBytes: this.#sharedBytes } });
    const slot: Slot = {
      worker,
      current: undefined,
      dead: false,
      input: shared && new Uint8Array(shared, 0, this.#sharedBytes),
      output: shared && new Uint8Array(shared, this.#sharedBytes),
    };
    worker.on("message", (reply: WorkerReply) => this.#onReply(slot, reply));
    worker.on("error", (err) => this.#onDeath(slot, err));
    worker.on("exit", (code) => this.#onDeath(slot, new Error(`Compression worker exited with code ${code}.`)));
    // After the listeners: adding a "message" listener refs the worker's port again.
    worker.unref();
    this.#slots.add(slot);
    return slot;
  }

  #onReply(slot: Slot, reply: WorkerReply): void {
    const pending = slot.current;
    if (pending === undefined || pending.id !== reply.id) return;
    slot.current = undefined;
    slot.worker.unref();
    if (!reply.ok) pending.reject(new Error(reply.message));
    else if ("data" in reply) pending.resolve(reply.data);
    else if (slot.output !== undefined && reply.sharedLength <= slot.output.byteLength) {
      // Copied out before the next job can reuse the region (dispatch runs below).
      const result = slot.output.subarray(0, reply.sharedLength);
      if (pending.allocate === undefined || pending.settled) pending.resolve(Buffer.from(result));
      else {
        const out = pending.allocate(result.byteLength);
        out.set(result);
        pending.resolve(out);
      }
    } else pending.reject(new Error("Compression worker answered with an invalid shared output length."));
    if (!slot.dead) this.#idle.push(slot);
    this.#dispatch();
  }

  /** Both "error" and "exit" fire for a crash; the first one wins. */
  #onDeath(slot: Slot, err: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    this.#slots.delete(slot);
    const idleIndex = this.#idle.indexOf(slot);
    if (idleIndex >= 0) this.#idle.splice(idleIndex, 1);
    slot.current?.reject(err);
    slot.current = undefined;
    if (!this.#closed) this.#dispatch();
  }
}
