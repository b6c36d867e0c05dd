import type { Knex } from "knex";
import type { Dialect } from "../dialect.ts";

/**
 * Adds `<column> = 'V'` as a filter that no index serves. SQLite plans without statistics:
 * offered the `(state, holders_count)` index for `state = 'V'` beside the index on the hash
 * being looked up, it took the state index, so every find-and-lock walked all valid rows
 * (4.4 ms for 16 hashes among 19,200 chunks, growing with the table). A unary plus makes the
 * term unusable by an index (SQLite's documented way to steer its planner). Postgres plans
 * from statistics and gets the plain comparison.
 */
export function whereValid(query: Knex.QueryBuilder, dialect: Dialect, column = "state"): Knex.QueryBuilder {
  return dialect.kind === "sqlite" ? query.whereRaw("+?? = 'V'", [column]) : query.andWhere(column, "V");
}
