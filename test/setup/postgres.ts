import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { freePort } from "./free-port.ts";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import knex from "knex";

const run = promisify(execFile);

/** A running throwaway PostgreSQL cluster. */
export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:PORT/attic`: superuser, trust auth, a fresh database. */
  url: string;
  /** The socket directory (also a valid `?host=` for socket URLs). */
  socketDir: string;
  port: number;
  /** Stops the server (`-m immediate`: nothing to keep) and removes its directory. */
  stop(): Promise<void>;
}

const INSTALL_HINT = "run scripts/install-system-deps.sh (Debian package postgresql)";

/**
 * The server binaries: `$ATTIC_TS_PG_BIN` if set, else the newest `/usr/lib/postgresql/<v>/bin`
 * (Debian's layout). Throws, naming the install script, when none is there: a suite that needs
 * PostgreSQL must fail rather than skip.
 */
export async function findPostgresBin(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.ATTIC_TS_PG_BIN) candidates.push(process.env.ATTIC_TS_PG_BIN);
  const versions = await readdir("/usr/lib/postgresql").catch(() => [] as string[]);
  versions.sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  candidates.push(...versions.map((v) => join("/usr/lib/postgresql", v, "bin")));
  for (const bin of candidates) {
    const ok = await Promise.all(["initdb", "pg_ctl"].map((tool) => access(join(bin, tool)).then(() => true, () => false)));
    if (ok.every(Boolean)) return bin;
  }
  throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: ${INSTALL_HINT}`);
}

/** initdb refuses to run as root, so root runs the tools as `postgres`; others as themselves. */
const asRoot = userInfo().uid === 0;

async function runTool(bin: string, tool: string, args: string[]): Promise<string> {
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] : [join(bin, tool), args];
  try {
    const { stdout } = await run(cmd, argv, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${tool} ${args.join(" ")} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** Runs `sql` as the superuser on `database` of the server at `url`. */
async function adminQuery(url: string, sql: string): Promise<void> {
  const k = knex({ client: "pg", connection: url, pool: { min: 0, max: 1 } });
  try {
    await k.raw(sql);
  } finally {
    await k.destroy();
  }
}

/** The URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Starts a throwaway cluster (about 1 s): initdb into a temp directory, `pg_ctl start` on a
 * free port on 127.0.0.1 and a socket in that directory, `fsync=off` (nothing here must survive
 * a crash), then creates database `attic`.
 */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = await findPostgresBin();
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "log");
  if (asRoot) await chown(dir, Number((await run("id", ["-u", "postgres"])).stdout.trim()), 0);
  let started = false;
  try {
    await runTool(bin, "initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const port = await freePort();
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
    await runTool(bin, "pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"]).catch(async (err: Error) => {
      const tail = await readFile(log, "utf8").catch(() => "");
      throw new Error(`${err.message}\n${tail.slice(-2000)}`);
    });
    started = true;
    const server = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await adminQuery(server, "CREATE DATABASE attic");
    return {
      url: withDatabase(server, "attic"),
      socketDir: dir,
      port,
      async stop() {
        await runTool(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (started) await runTool(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A fresh database on a running cluster. */
export interface TestDatabase {
  url: string;
  name: string;
  /** Drops it (terminating leftover connections). */
  drop(): Promise<void>;
}

/**
 * Creates a database with a random name on the server of `url` (any database of it), so test
 * files and cases do not see each other's rows.
 */
export async function createTestDatabase(url: string, prefix = "t"): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await adminQuery(url, `CREATE DATABASE "${name}"`);
  return {
    url: withDatabase(url, name),
    name,
    drop: () => adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
