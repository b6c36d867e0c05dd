import { DATABASE, definePlugin } from "@attic-ts/core";
import { attachDatabaseLifecycle } from "@attic-ts/sql";
import { parseSqliteUrl, sqliteConfigSchema, type SqliteConfig } from "./config.ts";
import { createSqliteDatabase, verifySqliteDatabase } from "./connect.ts";

export { parseSqliteUrl, sqliteConfigSchema, type SqliteConfig, type SqliteOpenMode, type SqliteTarget } from "./config.ts";
export {
  BUSY_TIMEOUT_MS,
  READ_CONNECTIONS,
  createSqliteDatabase,
  createSqliteKnex,
  createSqliteReadKnex,
  openSqliteDatabase,
  sqliteUriFor,
  verifySqlite,
  verifySqliteDatabase,
} from "./connect.ts";

/**
 * The SQLite database plugin (`database.url = "sqlite://...")`). It binds `DATABASE` to a
 * `KnexDatabase` (one writer connection, and a pool of read connections on a WAL file); at start
 * it checks the file and the connections, at stop it closes the pools.
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
    const db = createSqliteDatabase(target);
    container.registerInstance(DATABASE, db);

    attachDatabaseLifecycle(ctx.lifecycle, {
      knex: db.knex,
      db,
      verify: () => verifySqliteDatabase(db, target),
      heartbeat: config.heartbeat === true,
      logger: ctx.logger,
    });
  },
});

export default sqlitePlugin;
