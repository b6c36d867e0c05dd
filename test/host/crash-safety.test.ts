import { createHash } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  atticadm,
  atticdOnce,
  buildDist,
  HS256_SECRET,
  sandbox,
  startAtticd,
  writeConfig,
  type RunningAtticd,
  type Sandbox,
} from "../../packages/server-koa/test/cli-harness.ts";
import { provisionBackend, type BackendResources, type TestDb, type TestStorage } from "../helpers/backend.ts";
import { pseudoRandomBytes, uploadInfoOfBytes } from "../helpers/data.ts";
import { snapshot } from "../helpers/engine.ts";

// Issue #6's crash test with real processes: atticd is killed with SIGKILL at seeded random
// points of 20 uploads (in the body, stalled between chunks, right after the last byte), then
// restarted, and `--mode garbage-collector-once` must leave no pending row, no held row, no
// lease, and exactly the storage of the paths that were pushed completely, all still whole.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG, so a failing sequence of kills can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NIX32 = "0123456789abcdfghijklmnpqrsvwxyz";

interface Nar {
  hash: string;
  bytes: Buffer;
  info: Record<string, unknown>;
}

/** A NAR-shaped upload (the server checks hash and size, not the NAR format) with its info. */
function makeNar(cache: string, name: string, bytes: Buffer, random: () => number): Nar {
  const hash = Array.from({ length: 32 }, () => NIX32[Math.floor(random() * 32)]).join("");
  return { hash, bytes, info: uploadInfoOfBytes(cache, hash, name, bytes) };
}

type KillPoint = "in-body" | "between-chunks" | "after-last-byte";

/**
 * Streams `nar` to upload-path and SIGKILLs the server at `point`: after `fraction` of the body
 * (at once, or after a stall that lets the server store the chunks it has), or `delayMs` after
 * the last byte (before, during or after the final commit).
 */
async function uploadAndKill(server: RunningAtticd, token: string, nar: Nar, point: KillPoint, fraction: number, delayMs: number) {
  const req = request(`${server.url}/_api/v1/upload-path`, {
    method: "PUT",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/octet-stream",
      "X-Attic-Nar-Info": JSON.stringify(nar.info),
    },
  });
  req.on("error", () => {}); // the server dies under it
  req.on("response", (res) => res.resume().on("error", () => {}));
  const cut = point === "after-last-byte" ? nar.bytes.length : Math.max(1, Math.floor(nar.bytes.length * fraction));
  for (let at = 0; at < cut; at += 16_384) {
    const more = req.write(nar.bytes.subarray(at, Math.min(cut, at + 16_384)));
    if (!more) await new Promise((r) => req.once("drain", r));
  }
  if (point === "after-last-byte") req.end();
  await sleep(delayMs);
  server.child.kill("SIGKILL");
  await server.exited;
  req.destroy();
}

async function uploadWhole(url: string, token: string, nar: Nar): Promise<number> {
  const res = await fetch(`${url}/_api/v1/upload-path`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream", "X-Attic-Nar-Info": JSON.stringify(nar.info) },
    body: nar.bytes,
  });
  await res.arrayBuffer();
  return res.status;
}

/** The served NAR's hash, or null when the path is absent (404 narinfo). */
async function servedHash(url: string, token: string, cache: string, nar: Nar): Promise<string | null> {
  const auth = { Authorization: `Bearer ${token}` };
  const info = await fetch(`${url}/${cache}/${nar.hash}.narinfo`, { headers: auth });
  await info.arrayBuffer();
  if (info.status === 404) return null;
  expect(info.status).toBe(200);
  const res = await fetch(`${url}/${cache}/nar/${nar.hash}.nar`, { headers: auth });
  expect(res.status).toBe(200);
  return `sha256:${createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex")}`;
}

function logRecords(stderr: string, msg: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r.msg === msg);
}

const COMBINATIONS: ReadonlyArray<readonly [TestDb, TestStorage]> = [
  ["sqlite", "local"],
  ["postgres", "s3"],
];

describe.each(COMBINATIONS)("crash safety: SIGKILL during 20 uploads (%s, %s)", { timeout: 600_000 }, (db, storage) => {
  let box: Sandbox;
  let backend: BackendResources;
  beforeAll(async () => {
    await buildDist();
    box = await sandbox();
    backend = await provisionBackend(db, storage);
  });
  afterAll(async () => {
    await backend?.cleanup();
    await box?.cleanup();
  });

  it("no row stays pending or held, storage returns to the baseline, every served NAR verifies", async () => {
    const config = await writeConfig(
      box.dir,
      [
        'listen = "127.0.0.1:0"',
        // Short periods so the test need not wait a day; the defaults are a day, a day, 5 minutes.
        "[garbage-collection]",
        'interval = "0s"',
        'pending-grace-period = "1s"',
        'orphan-file-grace-period = "1s"',
        'upload-lease-period = "3s"',
        backend.toml(),
        "[chunking]\nnar-size-threshold = 65536\nmin-size = 16384\navg-size = 65536\nmax-size = 262144",
        '[compression]\ntype = "none"',
        `[jwt.signing]\ntoken-hs256-secret-base64 = "${HS256_SECRET}"`,
      ].join("\n"),
    );
    const flags = ["pull", "push", "create-cache", "configure-cache", "configure-cache-retention"].flatMap((f) => [`--${f}`, "*"]);
    const minted = await atticadm(["-f", config, "make-token", "--sub", "crash", "--validity", "1 hour", ...flags], box.env);
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    const random = prng(db === "sqlite" ? 6 : 66);
    const shared = Buffer.from(pseudoRandomBytes(600, 500_000));
    const unique = (n: number, size: number) => Buffer.from(pseudoRandomBytes(601 + n, size));

    // Kept paths, pushed completely: their storage is the baseline.
    let server = await startAtticd(["-f", config], box.env);
    const kept = [
      makeNar("kept", "small", unique(0, 20_000), random),
      makeNar("kept", "shared-a", Buffer.concat([shared, unique(1, 300_000)]), random),
      makeNar("kept", "plain", unique(2, 900_000), random),
    ];
    for (const name of ["kept", "crash"]) {
      const res = await fetch(`${server.url}/_api/v1/cache-config/${name}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ keypair: "Generate", is_public: false, store_dir: "/nix/store", priority: 41, upstream_cache_key_names: [] }),
      });
      expect(res.status).toBe(200);
    }
    // What the crashed uploads commit (some finish before the kill) expires at the collection.
    const patch = await fetch(`${server.url}/_api/v1/cache-config/crash`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ retention_period: { Period: 1 } }),
    });
    expect(patch.status).toBe(200);
    for (const nar of kept) expect(await uploadWhole(server.url, token, nar)).toBe(200);
    const inspect = backend.connect();
    try {
      const state = () => snapshot({ inspect, storagePath: backend.storagePath, ...(backend.s3 ? { s3: backend.s3 } : {}) });
      const baseline = await state();
      expect(baseline.object).toBe(3);
      expect(baseline.pendingOrHeld).toBe(0);

      // Twenty uploads, each killed at its own point. They share chunks with the kept paths,
      // repeat whole kept NARs (NAR dedup holds), or are new.
      const crashed: Nar[] = [];
      const points: KillPoint[] = ["in-body", "between-chunks", "after-last-byte"];
      for (let i = 0; i < 20; i++) {
        const kind = i % 4;
        const bytes =
          kind === 0 ? kept[1 + ((i / 4) % 2)]!.bytes
          : kind === 1 ? Buffer.concat([shared, unique(100 + i, 50_000 + Math.floor(random() * 400_000))])
          : kind === 2 ? unique(200 + i, 10_000 + Math.floor(random() * 40_000))
          : unique(300 + i, 200_000 + Math.floor(random() * 1_300_000));
        const nar = makeNar("crash", `crash-${i}`, bytes, random);
        crashed.push(nar);
        const point = points[Math.floor(random() * points.length)]!;
        const fraction = 0.05 + random() * 0.9;
        const delayMs = point === "in-body" ? Math.floor(random() * 20) : point === "between-chunks" ? 150 + Math.floor(random() * 600) : Math.floor(random() * 40);
        if (i > 0) server = await startAtticd(["-f", config], box.env);
        await uploadAndKill(server, token, nar, point, fraction, delayMs);
      }

      // Restart: whatever a killed upload managed to commit is whole.
      server = await startAtticd(["-f", config], box.env);
      try {
        for (const nar of crashed) {
          const hash = await servedHash(server.url, token, "crash", nar);
          if (hash !== null) expect(hash).toBe(nar.info.nar_hash);
        }
        // The kills did leave work behind: leases nobody will renew.
        expect(Number((await inspect("attic_ts_lease").count({ n: "*" }))[0]!.n)).toBeGreaterThan(0);
        await sleep(4000); // past the lease period (3 s) and every grace period (1 s)

        const gc = await atticdOnce(["-f", config, "--mode", "garbage-collector-once"], box.env);
        expect(gc.code, gc.stderr).toBe(0);
        const [report] = logRecords(gc.stderr, "garbage collection finished");
        expect(report).toMatchObject({ skipped: false, failedDeletions: 0, failedSweeps: 0 });
        expect(report!.expiredLeases).toBeGreaterThan(0);

        const after = await state();
        expect(after.pendingOrHeld).toBe(0);
        expect(after).toEqual(baseline);
        expect(Number((await inspect("attic_ts_lease").count({ n: "*" }))[0]!.n)).toBe(0);
        expect(Number((await inspect("attic_ts_lease_hold").count({ n: "*" }))[0]!.n)).toBe(0);
        for (const nar of kept) expect(await servedHash(server.url, token, "kept", nar)).toBe(nar.info.nar_hash);
        for (const nar of crashed) expect(await servedHash(server.url, token, "crash", nar)).toBeNull();
      } finally {
        await server.stop("SIGTERM");
      }
    } finally {
      await inspect.destroy();
    }
  });
});
