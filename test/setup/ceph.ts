import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = resolve(fileURLToPath(new URL("../../scripts/ceph-rgw.sh", import.meta.url)));
const REQUIRED = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool", "ceph-authtool"];

/** How tests reach the gateway; the region is any string RGW accepts (its default zonegroup). */
export interface CephRgw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Stops the daemons and removes their directory. */
  stop(): Promise<void>;
}

async function missingBinaries(): Promise<string[]> {
  const missing: string[] = [];
  for (const bin of REQUIRED) {
    try {
      await run("sh", ["-c", `command -v ${bin}`]);
    } catch {
      missing.push(bin);
    }
  }
  return missing;
}

/**
 * Starts a single-node Ceph cluster with a RADOS Gateway in a temp directory (about 12 s), via
 * scripts/ceph-rgw.sh. Missing binaries fail loudly: the S3 tests are never skipped.
 */
export async function startCephRgw(): Promise<CephRgw> {
  const missing = await missingBinaries();
  if (missing.length > 0) {
    throw new Error(
      `The S3 tests need a local Ceph RADOS Gateway, but ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} missing. ` +
        "Run scripts/install-system-deps.sh (as root) to install radosgw ceph-mon ceph-osd ceph-common.",
    );
  }
  // One retry: two clusters starting at the same instant (parallel runs) have once left an
  // OSD unable to register; a second attempt on fresh ports has always worked.
  try {
    return await startOnce();
  } catch (err) {
    return await startOnce().catch((again: unknown) => {
      throw new Error(`${(again as Error).message}\n(first attempt: ${(err as Error).message})`, { cause: again });
    });
  }
}

async function startOnce(): Promise<CephRgw> {
  const dir = await mkdtemp(join(tmpdir(), "attic-ts-ceph-"));
  const stop = async (): Promise<void> => {
    await run(SCRIPT, ["stop", dir], { timeout: 60_000 });
    await rm(dir, { recursive: true, force: true });
  };
  let stdout: string;
  try {
    ({ stdout } = await run(SCRIPT, ["start", dir], { timeout: 180_000 }));
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? "";
    await stop().catch(() => undefined);
    throw new Error(`scripts/ceph-rgw.sh start ${dir} failed: ${(err as Error).message}\n${detail}`, { cause: err });
  }
  const values = new Map(
    stdout
      .split("\n")
      .map((line) => line.split("=", 2) as [string, string])
      .filter((pair) => pair.length === 2),
  );
  const endpoint = values.get("endpoint");
  const accessKeyId = values.get("access_key_id");
  const secretAccessKey = values.get("secret_access_key");
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    await stop().catch(() => undefined);
    throw new Error(`scripts/ceph-rgw.sh printed no endpoint and keys:\n${stdout}`);
  }
  return { endpoint, accessKeyId, secretAccessKey, region: "us-east-1", stop };
}
