/**
 * Starts the e2e services once (a PostgreSQL cluster and a Ceph RADOS Gateway) and keeps them
 * until interrupted, so several test runs on one machine can share them:
 *
 *   TSX_TSCONFIG_PATH=tsconfig.base.json npx tsx test/setup/dev-services.ts > /tmp/services.json &
 *   ATTIC_TS_TEST_SERVICES="$(cat /tmp/services.json)" npx vitest run --project e2e
 */
import { startCephRgw } from "./ceph.ts";
import { startPostgres } from "./postgres.ts";
import type { SharedServices } from "./shared-services.ts";

const postgres = await startPostgres();
const ceph = await startCephRgw().catch(async (err: unknown) => {
  await postgres.stop();
  throw err;
});
const services: SharedServices = {
  postgresUrl: postgres.url,
  s3: { endpoint: ceph.endpoint, accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey, region: ceph.region },
};
process.stdout.write(`${JSON.stringify(services)}\n`);
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await Promise.all([postgres.stop(), ceph.stop()]);
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
setInterval(() => undefined, 1 << 30);
