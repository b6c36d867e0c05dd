import { DATABASE, definePlugin } from "@attic-ts/core";
import { attachDatabaseLifecycle, KnexDatabase, sqliteDialect } from "@attic-ts/sql";
import { parseSqliteUrl, sqliteConfigSchema, type SqliteConfig } from "./config.ts";
import { createSqliteKnex, verifySqlite } from "./connect.ts";

export { parseSqliteUrl, sqliteConfigSchema, type SqliteConfig, type SqliteOpenMode, type SqliteTarget } from "./config.ts";
export { BUSY_TIMEOUT_MS, createSqliteKnex, openSqliteDatabase, sqliteUriFor, verifySqlite } from "./connect.ts";

/**
 * The SQLite database plugin (`database.url = "sqlite://...")`). It binds `DATABASE` to a
 * `KnexDatabase`; at start it checks the file and the connection, at stop it closes the pool.
 * Migrations are not run here: the engine calls `db.migrate()` when its mode wants them.
 */
export const sqlitePlugin = definePlugin<SqliteConfig>({
  kind: "database",
  type: "sqlite",
  urlSchemes: ["sqlite"],
  configSchema: sqliteConfigSchema,
  register(container, config, ctx) {
    const target = parseSqliteUrl(config.url);
    // knex connects lazily: nothing is opened until start.
    const knex = createSqliteKnex(target);
    const db = new KnexDatabase(knex, sqliteDialect);
    container.registerInstance(DATABASE, db);

    attachDatabaseLifecycle(ctx.lifecycle, {
      knex,
      db,
      verify: () => verifySqlite(knex, target),
      heartbeat: config.heartbeat === true,
      logger: ctx.logger,
    });
  },
});

export default sqlitePlugin;
