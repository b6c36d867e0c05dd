import type { TestProject } from "vitest/node";
import { requireNix } from "../helpers/nix.ts";
import { startPostgres } from "./postgres.ts";
import { startCephRgw } from "./ceph.ts";
import { sharedServicesFromEnv } from "./shared-services.ts";

declare module "vitest" {
  interface ProvidedContext {
    /** URL of the run's throwaway PostgreSQL cluster; test files create their own databases on it. */
    postgresUrl: string;
    /** The run's Ceph RADOS Gateway (a real S3); test files create their own buckets on it. */
    s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  }
}

/**
 * Runs once before the e2e project: the suites need the real Nix CLI and a real PostgreSQL.
 * A missing tool fails the run here with the command that installs it, rather than as a skip.
 * One cluster serves the whole run (each file creates its own database on it).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await requireNix();
  // Several developers' runs on one machine may share services started once by
  // test/setup/dev-services.ts (two Ceph clusters starting at the same instant can fail).
  const shared = sharedServicesFromEnv(process.env);
  if (shared) {
    project.provide("postgresUrl", shared.postgresUrl);
    project.provide("s3", shared.s3);
    return async () => undefined;
  }
  const postgres = await startPostgres();
  project.provide("postgresUrl", postgres.url);
  // S3: one Ceph RADOS Gateway per run (about 12 s to start).
  const ceph = await startCephRgw().catch(async (err: unknown) => {
    await postgres.stop();
    throw err;
  });
  project.provide("s3", { endpoint: ceph.endpoint, accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey, region: ceph.region });
  return async () => {
    await Promise.all([postgres.stop(), ceph.stop()]);
  };
}
