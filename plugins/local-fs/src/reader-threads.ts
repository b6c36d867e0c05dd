import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { SizeMismatch } from "./whole-read.ts";

/**
 * Why small files are read on threads of our own: a NAR download is thousands of ~64 KiB chunk
 * files in a row. Through libuv's pool each one is two round trips (open, then read) into a
 * fresh buffer, and fresh buffers were what held downloads at a quarter of nginx's rate: V8
 * ran a full collection for every 64 MiB of them. A reader thread reads a group of files (open,
 * read, close each) into shared memory the caller gives, a download's reused slot, and answers
 * with one message, so the main thread handles one wake-up per group and allocates nothing
 * (BENCHMARKS.md, thirteenth pass).
 */

/** The worker script, beside the compiled module or under `../src/` (tsc does not copy `.mjs`). */
export function readWorkerUrl(): URL {
  const beside = new URL("./read-worker.mjs", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL("../src/read-worker.mjs", import.meta.url);
}

/** An `fs` failure as the reader thread reported it; `code` as in `NodeJS.ErrnoException`. */
export class ReadFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The file of the group that failed. */
    readonly index: number,
  ) {
    super(message);
    this.name = "ReadFailure";
  }
}

/** Raised for reads submitted to, or still running in, closed reader threads. */
export class ReaderThreadsClosedError extends Error {
  constructor() {
    super("The local storage reader threads are closed.");
    this.name = "ReaderThreadsClosedError";
  }
}

/** A file to read and the bytes it must hold. */
export interface FileToRead {
  path: string;
  size: number;
}

/** A file of a group that held other than its recorded size. */
export class GroupSizeMismatch extends SizeMismatch {
  constructor(
    expected: number,
    found: number,
    /** The file of the group. */
    readonly index: number,
  ) {
    super(expected, found);
  }
}

/**
 * Reads asked for in one turn are gathered this many to a thread before the next thread gets
 * any: a download asks for its groups in pairs (`GROUPS_PER_READ` in core), and each message
 * wakes an idle thread, which is costly on VMs. More at once would leave the other thread idle
 * while many downloads wait on a disk that is not cached.
 */
const READS_JOINED = 2;

interface Answer {
  id: number;
  index?: number;
  found?: number;
  code?: string;
  message?: string;
}

interface PendingRead {
  files: readonly FileToRead[];
  /** Where the bytes go, and where the answer's view starts. */
  target: SharedArrayBuffer;
  offset: number;
  total: number;
  thread: Thread;
  resolve: (data: Buffer) => void;
  reject: (err: unknown) => void;
  /** Removes the abort listener. */
  cleanup: () => void;
}

interface Thread {
  worker: Worker;
  /** Reads posted and not answered. */
  outstanding: number;
  /** Reads gathered this turn, posted together. */
  batch: Array<{ id: number; files: readonly FileToRead[]; target: SharedArrayBuffer; offset: number }>;
  dead: boolean;
}

export interface ReaderThreadsOptions {
  /** Threads at most (started on demand); default 2. */
  threads?: number;
  /** The worker script; tests substitute one that fails. */
  workerUrl?: URL;
}

/**
 * Whole-file reads on worker threads, for files small enough to hold in memory. Threads start
 * on the first read, are unref'd while idle (they never keep the process alive) and ref'd while
 * reads are outstanding. A thread that dies fails its reads and is replaced by the next read.
 */
export class ReaderThreads {
  readonly size: number;
  readonly #workerUrl: URL;
  readonly #threads: Thread[] = [];
  readonly #pending = new Map<number, PendingRead>();
  #nextId = 1;
  #closed = false;
  #flushScheduled = false;

  constructor(options: ReaderThreadsOptions = {}) {
    this.size = Math.max(1, Math.floor(options.threads ?? 2));
    this.#workerUrl = options.workerUrl ?? readWorkerUrl();
  }

  /** Live threads. */
  get threadCount(): number {
    return this.#threads.length;
  }

  /**
   * Reads the files, each of which must hold exactly its `size` bytes, and answers their bytes
   * concatenated: in `into` when it is a view of shared memory with room for them (the answer
   * is then a view of its start), otherwise in new shared memory. Rejects with a
   * `ReadFailure` (its `code` is the errno name), a `GroupSizeMismatch`, or the signal's
   * reason; both errors name the file by `index`. After an abort the thread may still be
   * writing into `into`.
   */
  read(files: readonly FileToRead[], signal?: AbortSignal, into?: Uint8Array): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new ReaderThreadsClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const thread = this.#leastBusy();
    const id = this.#nextId++;
    let total = 0;
    for (const file of files) total += file.size;
    let target: SharedArrayBuffer;
    let offset = 0;
    if (into !== undefined && into.buffer instanceof SharedArrayBuffer && into.byteLength >= total) {
      target = into.buffer;
      offset = into.byteOffset;
    } else {
      target = new SharedArrayBuffer(total);
    }
    return new Promise<Buffer>((resolve, reject) => {
      const pending: PendingRead = { files, target, offset, total, thread, resolve, reject, cleanup: () => {} };
      if (signal) {
        // The read itself runs on; its answer is dropped when it comes.
        const onAbort = (): void => this.#settle(id, pending, signal.reason as Error);
        signal.addEventListener("abort", onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.#pending.set(id, pending);
      if (thread.outstanding++ === 0) thread.worker.ref();
      thread.batch.push({ id, files, target, offset });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // Reads asked for in the same turn (a download opening its read-ahead) go as one message.
        queueMicrotask(this.#flush);
      }
    });
  }

  /** Terminates the threads; outstanding reads reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const threads = this.#threads.splice(0);
    for (const thread of threads) this.#fail(thread, new ReaderThreadsClosedError());
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const thread of this.#threads) {
      if (thread.batch.length === 0 || thread.dead) continue;
      thread.worker.postMessage(thread.batch);
      thread.batch = [];
    }
  };

  /**
   * The thread for a new read: one that has fewer than `READS_JOINED` reads gathered this turn
   * and more than none, so they go in one message; otherwise the least busy, or a new one while
   * there are fewer than `size`.
   */
  #leastBusy(): Thread {
    for (const thread of this.#threads) {
      if (thread.batch.length > 0 && thread.batch.length < READS_JOINED && !thread.dead) return thread;
    }
    let best: Thread | undefined;
    for (const thread of this.#threads) if (best === undefined || thread.outstanding < best.outstanding) best = thread;
    if (best !== undefined && (best.outstanding === 0 || this.#threads.length >= this.size)) return best;
    return this.#spawn();
  }

  #spawn(): Thread {
    const worker = new Worker(this.#workerUrl);
    const thread: Thread = { worker, outstanding: 0, batch: [], dead: false };
    worker.on("message", (answers: Answer[]) => this.#onAnswers(answers));
    worker.on("error", (err) => this.#onDeath(thread, err));
    worker.on("exit", (code) => this.#onDeath(thread, new Error(`A local storage reader thread exited with code ${code}.`)));
    // After the listeners: adding a "message" listener refs the worker again.
    worker.unref();
    this.#threads.push(thread);
    return thread;
  }

  #onAnswers(answers: Answer[]): void {
    for (const answer of answers) {
      const pending = this.#pending.get(answer.id);
      if (pending === undefined) continue; // aborted meanwhile
      const { index } = answer;
      if (index === undefined) this.#settle(answer.id, pending, undefined, Buffer.from(pending.target, pending.offset, pending.total));
      else if (answer.found !== undefined) this.#settle(answer.id, pending, new GroupSizeMismatch(pending.files[index]!.size, answer.found, index));
      else this.#settle(answer.id, pending, new ReadFailure(answer.code ?? "EIO", answer.message ?? "read failed", index));
    }
  }

  #settle(id: number, pending: PendingRead, err: unknown, data?: Buffer): void {
    if (!this.#pending.delete(id)) return;
    pending.cleanup();
    const thread = pending.thread;
    if (--thread.outstanding === 0 && !thread.dead) thread.worker.unref();
    if (data !== undefined) pending.resolve(data);
    else pending.reject(err);
  }

  /** "error" and "exit" both fire for a crash; the second finds nothing left to fail. */
  #onDeath(thread: Thread, err: Error): void {
    const index = this.#threads.indexOf(thread);
    if (index >= 0) this.#threads.splice(index, 1);
    this.#fail(thread, err);
  }

  #fail(thread: Thread, err: Error): void {
    thread.dead = true;
    for (const [id, pending] of this.#pending) if (pending.thread === thread) this.#settle(id, pending, err);
  }
}
