import type { Knex } from "knex";
import type { Dialect } from "../dialect.ts";

/** What a migration's `up` receives. */
export interface MigrationContext {
  /** The transaction the migration runs in (its version is recorded in the same one). */
  knex: Knex;
  dialect: Dialect;
}

/** One Attic schema migration. */
export interface Migration {
  /** Attic's name, as recorded in `seaql_migrations.version`. */
  readonly name: string;
  /**
   * SQLite only: run with `PRAGMA foreign_keys = OFF` (which cannot change inside a
   * transaction), for migrations that rebuild a parent table by copy, drop and rename. With
   * foreign keys on, dropping the parent would cascade-delete every child row.
   */
  readonly sqliteForeignKeysOff?: boolean;
  up(ctx: MigrationContext): Promise<void>;
}
