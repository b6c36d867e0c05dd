// @attic-ts/sql: the knex implementation of core's Database, shared by the SQLite and
// PostgreSQL plugins.
export { KnexDatabase, createRepositories, type KnexDatabaseOptions } from "./knex-database.ts";
export {
  dialectFor,
  formatSqliteTimestamp,
  parseTimestampText,
  postgresDialect,
  sqliteDialect,
  type Dialect,
  type DialectKind,
} from "./dialect.ts";
export { MIGRATIONS, MIGRATIONS_TABLE, appliedMigrations, migrate, type MigrateOptions } from "./migrations/index.ts";
export type { Migration, MigrationContext } from "./migrations/index.ts";
export { KnexCacheRepository } from "./repositories/cache-repository.ts";
export { KnexNarRepository } from "./repositories/nar-repository.ts";
export { KnexChunkRepository } from "./repositories/chunk-repository.ts";
export { KnexObjectRepository, PRESENT_PATHS_BATCH, PRESENT_PATHS_CONCURRENCY, PRESENT_PATHS_POSTGRES } from "./repositories/object-repository.ts";
export { KnexGcRepository } from "./repositories/gc-repository.ts";
export { toDatabaseError } from "./errors.ts";
export { batches } from "./batch.ts";
export { attachDatabaseLifecycle, HEARTBEAT_INTERVAL_MS, type DatabaseLifecycleOptions } from "./database-lifecycle.ts";
export { KnexLeaseRepository } from "./repositories/lease-repository.ts";
export { EXTENSION_MIGRATIONS, EXTENSION_MIGRATIONS_TABLE } from "./migrations/index.ts";
export { PRESENT_PATHS_INDEX } from "./migrations/attic_ts_m20261205_000001_object_present_paths_index.ts";
