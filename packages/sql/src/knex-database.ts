import type { Knex } from "knex";
import type {
  CacheRepository,
  ChunkRepository,
  Database,
  GcLock,
  GcRepository,
  IoOptions,
  LeaseRepository,
  NarRepository,
  ObjectRepository,
  Repositories,
} from "@attic-ts/core";
import type { Dialect } from "./dialect.ts";
import { toDatabaseError } from "./errors.ts";
import { tryPostgresGcLock, trySqliteGcLock } from "./gc-lock.ts";
import { migrate } from "./migrations/index.ts";
import { KnexCacheRepository } from "./repositories/cache-repository.ts";
import { KnexChunkRepository } from "./repositories/chunk-repository.ts";
import { KnexGcRepository } from "./repositories/gc-repository.ts";
import { KnexLeaseRepository } from "./repositories/lease-repository.ts";
import { KnexNarRepository } from "./repositories/nar-repository.ts";
import { KnexObjectRepository } from "./repositories/object-repository.ts";

/**
 * The repositories bound to one knex handle (the root instance or a transaction). `reader`, when
 * given, runs the read-only lookups of the request paths (cache, object, NAR chunk list).
 */
export function createRepositories(knex: Knex, dialect: Dialect, reader: Knex = knex): Repositories {
  return {
    caches: new KnexCacheRepository(knex, dialect, reader),
    nars: new KnexNarRepository(knex, dialect, reader),
    chunks: new KnexChunkRepository(knex, dialect),
    objects: new KnexObjectRepository(knex, dialect, reader),
    gc: new KnexGcRepository(knex, dialect),
    leases: new KnexLeaseRepository(knex, dialect),
  };
}

/** Options of `KnexDatabase`. */
export interface KnexDatabaseOptions {
  /**
   * A second knex instance for the read-only lookups outside transactions (SQLite in WAL mode:
   * a pool of read connections beside the single writer, so lookups run concurrently instead of
   * queueing behind each other and behind writes). Closed with the database.
   */
  readKnex?: Knex;
}

/**
 * The metadata database over knex, for SQLite and Postgres. The plugin owns the knex instance's
 * configuration (pool, pragmas); this class owns its queries and its shutdown.
 *
 * On SQLite with a one-connection pool, code inside `transaction(fn)` must use the `tx`
 * repositories: a write through this object's own repositories would wait for the connection
 * the transaction holds (and a read on the read pool would not see the transaction's changes).
 */
export class KnexDatabase implements Database {
  readonly kind: string;
  caches!: CacheRepository;
  nars!: NarRepository;
  chunks!: ChunkRepository;
  objects!: ObjectRepository;
  gc!: GcRepository;
  leases!: LeaseRepository;
  #readKnex: Knex | null;
  #closed = false;

  constructor(
    readonly knex: Knex,
    readonly dialect: Dialect,
    options: KnexDatabaseOptions = {},
  ) {
    this.kind = dialect.kind;
    this.#readKnex = options.readKnex ?? null;
    this.#bind();
  }

  /** The knex instance read-only lookups run on: the read pool, or `knex` without one. */
  get readKnex(): Knex {
    return this.#readKnex ?? this.knex;
  }

  /**
   * Routes every query to the writer again and closes the read pool: for a database where
   * concurrent readers are not safe or useful (not in WAL mode). Idempotent.
   */
  async dropReadPool(): Promise<void> {
    const reader = this.#readKnex;
    if (reader === null) return;
    this.#readKnex = null;
    this.#bind();
    await reader.destroy();
  }

  #bind(): void {
    const repositories = createRepositories(this.knex, this.dialect, this.readKnex);
    this.caches = repositories.caches;
    this.nars = repositories.nars;
    this.chunks = repositories.chunks;
    this.objects = repositories.objects;
    this.gc = repositories.gc;
    this.leases = repositories.leases;
  }

  async migrate(options: IoOptions = {}): Promise<void> {
    try {
      await migrate(this.knex, this.dialect, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw toDatabaseError("migrate", err);
    }
  }

  async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    let fnFailed = false;
    try {
      return await this.knex.transaction(async (trx) => {
        try {
          return await fn(createRepositories(trx, this.dialect));
        } catch (err) {
          fnFailed = true;
          throw err;
        }
      });
    } catch (err) {
      // The callback's own error is rethrown as is (after rollback); BEGIN/COMMIT failures are
      // the database's.
      if (fnFailed) throw err;
      throw toDatabaseError("transaction", err);
    }
  }

  async tryAcquireGcLock(): Promise<GcLock | null> {
    try {
      return this.dialect.kind === "postgres" ? await tryPostgresGcLock(this.knex) : await trySqliteGcLock(this.knex, this.dialect);
    } catch (err) {
      throw toDatabaseError("tryAcquireGcLock", err);
    }
  }

  /** Destroys the connection pools. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.knex.destroy(), this.#readKnex?.destroy()]);
  }
}
