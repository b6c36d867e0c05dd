import type { Knex } from "knex";
import type { Dialect } from "../dialect.ts";
import type { DbRecord } from "../rows.ts";
import { whereValid } from "./where-valid.ts";

/**
 * Attic's find-and-lock: one statement that picks a valid row matching `where` and increments
 * its `holders_count`, returning the updated row (or undefined):
 *
 *   UPDATE t SET holders_count = holders_count + 1
 *   WHERE id IN (SELECT id FROM t WHERE ... AND state = 'V' LIMIT 1 [FOR UPDATE SKIP LOCKED])
 *   RETURNING *
 *
 * Being a single statement it cannot lose an increment. On Postgres a row another statement is
 * locking is skipped (so a racing caller may find nothing, as in Attic); SQLite (>= 3.35 for
 * RETURNING) has one writer at a time and needs no row lock.
 */
export async function findAndLockRow(
  knex: Knex,
  dialect: Dialect,
  table: "nar" | "chunk",
  where: Record<string, string>,
): Promise<DbRecord | undefined> {
  const pick = whereValid(knex(table).select("id").where(where), dialect).limit(1);
  if (dialect.rowLocks) pick.forUpdate().skipLocked();
  const rows = (await knex(table)
    .update({ holders_count: knex.raw("?? + 1", ["holders_count"]) })
    .whereIn("id", pick)
    .returning("*")) as DbRecord[];
  return rows[0];
}
