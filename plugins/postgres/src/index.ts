import { DATABASE, definePlugin } from "@attic-ts/core";
import { attachDatabaseLifecycle, KnexDatabase, postgresDialect } from "@attic-ts/sql";
import { parsePostgresUrl, postgresConfigSchema, type PostgresConfig } from "./config.ts";
import { createPostgresKnex, verifyPostgres } from "./connect.ts";

export {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  DEFAULT_POOL_MAX,
  POSTGRES_SCHEMES,
  parsePostgresUrl,
  postgresConfigSchema,
  redact,
  type PostgresConfig,
  type PostgresTarget,
  type PostgresTls,
} from "./config.ts";
export {
  createPostgresKnex,
  openPostgresDatabase,
  pgConnectionConfig,
  resolveHost,
  verifyPostgres,
  type PostgresPoolOptions,
} from "./connect.ts";

/**
 * The PostgreSQL database plugin (`database.url = "postgres://..."` or `"postgresql://..."`).
 * It binds `DATABASE` to a `KnexDatabase` with row locks (`FOR UPDATE SKIP LOCKED`); at start
 * it checks the connection, at stop it closes the pool. Migrations are not run here: the engine
 * calls `db.migrate()` when its mode wants them.
 */
export const postgresPlugin = definePlugin<PostgresConfig>({
  kind: "database",
  type: "postgres",
  urlSchemes: ["postgres", "postgresql"],
  configSchema: postgresConfigSchema,
  register(container, config, ctx) {
    const target = parsePostgresUrl(config.url);
    if (target.ignoredParams.length > 0) {
      ctx.logger.warn({ params: target.ignoredParams }, "ignoring unrecognized PostgreSQL URL parameters");
    }
    // knex connects lazily: nothing is opened until start.
    const knex = createPostgresKnex(target, {
      poolMax: config["pool-max"],
      connectTimeoutSeconds: config["connect-timeout"],
      logger: ctx.logger,
    });
    const db = new KnexDatabase(knex, postgresDialect);
    container.registerInstance(DATABASE, db);

    attachDatabaseLifecycle(ctx.lifecycle, {
      knex,
      db,
      verify: () => verifyPostgres(knex, config.url),
      heartbeat: config.heartbeat === true,
      logger: ctx.logger,
    });
  },
});

export default postgresPlugin;
