import type { Knex } from "knex";
import type { Dialect } from "../dialect.ts";

// Column helpers that reproduce the types sea-query gives Attic's column definitions.

/** `big_integer().not_null().auto_increment().primary_key()`: bigserial / integer autoincrement. */
export function idColumn(t: Knex.CreateTableBuilder): void {
  t.bigIncrements("id");
}

/**
 * sea-query's `string()` is an unbounded `varchar` (knex's `string()` would be varchar(255),
 * too short for JSON columns such as `references`).
 */
export function stringColumn(t: Knex.TableBuilder, name: string): Knex.ColumnBuilder {
  return t.specificType(name, "varchar");
}

/** `timestamp_with_time_zone()`: timestamptz on Postgres, a TEXT-affinity column on SQLite. */
export function timestampColumn(t: Knex.TableBuilder, name: string, dialect: Dialect): Knex.ColumnBuilder {
  return t.specificType(name, dialect.timestampType);
}

/** `char().char_len(1)`: the one-letter `state` columns. */
export function stateColumn(t: Knex.TableBuilder): Knex.ColumnBuilder {
  return t.specificType("state", "char(1)").notNullable();
}

/**
 * A column-level `UNIQUE`, named as Postgres names the inline constraint sea-query emits
 * (`<table>_<column>_key`), so later migrations and ON CONFLICT find the same thing.
 */
export function uniqueColumn(t: Knex.CreateTableBuilder, table: string, column: string): void {
  t.unique([column], { indexName: `${table}_${column}_key`, useConstraint: true });
}

/**
 * Drops a column. SQLite (>= 3.35) drops it natively; knex's SQLite dropColumn would rebuild
 * the table instead, which can rewrite constraint definitions.
 */
export async function dropColumn(knex: Knex, dialect: Dialect, table: string, column: string): Promise<void> {
  if (dialect.kind === "sqlite") {
    await knex.raw("ALTER TABLE ?? DROP COLUMN ??", [table, column]);
  } else {
    await knex.schema.alterTable(table, (t) => t.dropColumn(column));
  }
}
