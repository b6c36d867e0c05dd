// Worker thread body for WorkerPool. Plain JavaScript (with JSDoc types) on purpose: Node 20 cannot
// run a `.ts` file in a worker, and tsc (no allowJs) does not copy it, so the package ships this
// file from src/ and worker-pool.ts finds it both from src/ (tests, tsx) and from dist/.
//
// Protocol: the parent posts {id, type, level, data: Uint8Array} and gets back either
// {id, ok: true, data: Uint8Array} (its ArrayBuffer transferred) or {id, ok: false, message}.
// Small jobs use the shared memory in `workerData.shared` instead: the parent writes the input
// at offset 0 and posts {id, type, level, sharedLength}; the worker writes the output right
// after the `workerData.inputBytes` input region and answers {id, ok: true, sharedLength}
// (or with `data` when the output does not fit there). No buffer crosses, so no garbage
// accumulates on either side (see worker-pool.ts).
// One job at a time per worker: the pool never posts a second job before the first answer.
import { parentPort, workerData } from "node:worker_threads";
import { Compressor } from "zstd-napi";
// The low-level binding (CommonJS): its CCtx compresses into a caller-given buffer.
import zstdBinding from "zstd-napi/binding.js";

const { CCtx, CParameter, compressBound } = zstdBinding;
import { xzSync, check } from "node-liblzma";

if (parentPort === null) throw new Error("compress-worker.mjs must run in a worker thread");
const port = parentPort;

/** @type {{ shared?: SharedArrayBuffer, inputBytes?: number } | undefined} */
const shared = workerData;
const sharedInput = shared?.shared ? new Uint8Array(shared.shared, 0, shared.inputBytes) : undefined;
const sharedOutput = shared?.shared ? new Uint8Array(shared.shared, shared.inputBytes) : undefined;

/** Contexts for compressing straight into the shared output, one per level. */
/** @type {Map<number, InstanceType<typeof CCtx>>} */
const cctxByLevel = new Map();

/**
 * @param {number} level
 * @returns {InstanceType<typeof CCtx>}
 */
function cctxFor(level) {
  let cctx = cctxByLevel.get(level);
  if (cctx === undefined) {
    cctx = new CCtx();
    // The same parameters as `zstdFor`: the level only, so both paths write identical frames.
    cctx.setParameter(CParameter.compressionLevel, level);
    cctxByLevel.set(level, cctx);
  }
  return cctx;
}

/** One zstd context per level, reused across jobs: creating a context costs more than a small job. */
/** @type {Map<number, Compressor>} */
const zstdByLevel = new Map();

/**
 * @param {number} level
 * @returns {Compressor}
 */
function zstdFor(level) {
  let compressor = zstdByLevel.get(level);
  if (compressor === undefined) {
    compressor = new Compressor();
    // Content size and no checksum: the zstd CLI's and Attic's (async-compression) defaults.
    compressor.setParameters({ compressionLevel: level });
    zstdByLevel.set(level, compressor);
  }
  return compressor;
}

/**
 * @param {string} type
 * @param {number} level
 * @param {Uint8Array} data
 * @returns {Uint8Array}
 */
function compress(type, level, data) {
  switch (type) {
    case "zstd":
      return zstdFor(level).compress(data);
    case "xz":
      // CRC64 is the check xz(1) and Attic's XzEncoder write; node-liblzma defaults to none.
      return xzSync(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { preset: level, check: check.CRC64 });
    default:
      throw new Error(`compress-worker: unsupported job type "${type}"`);
  }
}

/**
 * A view that owns its whole ArrayBuffer, so transferring it moves exactly these bytes. Results
 * that share a larger or pooled buffer are copied once (cheap next to the compression itself).
 * @param {Uint8Array} bytes
 * @returns {Uint8Array}
 */
function owned(bytes) {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes;
  }
  return new Uint8Array(bytes);
}

/**
 * A shared-memory job: the output length in the shared output region, or the output itself when
 * it does not fit there (only possible for xz).
 * @param {string} type
 * @param {number} level
 * @param {number} length
 * @returns {number | Uint8Array}
 */
function compressShared(type, level, length) {
  if (sharedInput === undefined || sharedOutput === undefined || length > sharedInput.byteLength) {
    throw new Error("compress-worker: shared job without shared memory of that size");
  }
  const input = sharedInput.subarray(0, length);
  if (type === "zstd" && compressBound(length) <= sharedOutput.byteLength) {
    return cctxFor(level).compress2(sharedOutput, input);
  }
  const result = compress(type, level, input);
  if (result.byteLength > sharedOutput.byteLength) return owned(result);
  sharedOutput.set(result);
  return result.byteLength;
}

port.on("message", (/** @type {{id: number, type: string, level: number, data?: Uint8Array, sharedLength?: number}} */ msg) => {
  if (msg.sharedLength !== undefined) {
    let out;
    try {
      out = compressShared(msg.type, msg.level, msg.sharedLength);
    } catch (err) {
      port.postMessage({ id: msg.id, ok: false, message: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (typeof out === "number") port.postMessage({ id: msg.id, ok: true, sharedLength: out });
    else port.postMessage({ id: msg.id, ok: true, data: out }, [out.buffer]);
    return;
  }
  let result;
  try {
    if (msg.data === undefined) throw new Error("compress-worker: job without data");
    result = owned(compress(msg.type, msg.level, msg.data));
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, message: err instanceof Error ? err.message : String(err) });
    return;
  }
  port.postMessage({ id: msg.id, ok: true, data: result }, [result.buffer]);
});
