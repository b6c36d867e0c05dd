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

/** The repositories bound to one knex handle (the root instance or a transaction). */
export function createRepositories(knex: Knex, dialect: Dialect): Repositories {
  return {
    caches: new KnexCacheRepository(knex, dialect),
    nars: new KnexNarRepository(knex, dialect),
    chunks: new KnexChunkRepository(knex, dialect),
    objects: new KnexObjectRepository(knex, dialect),
    gc: new KnexGcRepository(knex, dialect),
    leases: new KnexLeaseRepository(knex, dialect),
  };
}

/**
 * The metadata database over knex, for SQLite and Postgres. The plugin owns the knex instance's
 * configuration (pool, pragmas); this class owns its queries and its shutdown.
 *
 * On SQLite with a one-connection pool, code inside `transaction(fn)` must use the `tx`
 * repositories: a query through this object's own repositories would wait for the connection
 * the transaction holds.
 */
export class KnexDatabase implements Database {
  readonly kind: string;
  readonly caches: CacheRepository;
  readonly nars: NarRepository;
  readonly chunks: ChunkRepository;
  readonly objects: ObjectRepository;
  readonly gc: GcRepository;
  readonly leases: LeaseRepository;
  #closed = false;

  constructor(
    readonly knex: Knex,
    readonly dialect: Dialect,
  ) {
    this.kind = dialect.kind;
    const repositories = createRepositories(knex, dialect);
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

  /** Destroys the connection pool. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.knex.destroy();
  }
}
