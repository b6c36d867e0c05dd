// Worker thread body for WorkerPool. Plain JavaScript (with JSDoc types) on purpose: Node 20 cannot
// run a `.ts` file in a worker, and tsc (no allowJs) does not copy it, so the package ships this
// file from src/ and worker-pool.ts finds it both from src/ (tests, tsx) and from dist/.
//
// Protocol: the parent posts {id, type, level, data: Uint8Array} and gets back either
// {id, ok: true, data: Uint8Array} (its ArrayBuffer transferred) or {id, ok: false, message}.
// One job at a time per worker: the pool never posts a second job before the first answer.
import { parentPort } from "node:worker_threads";
import { Compressor } from "zstd-napi";
import { xzSync, check } from "node-liblzma";

if (parentPort === null) throw new Error("compress-worker.mjs must run in a worker thread");
const port = parentPort;

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

port.on("message", (/** @type {{id: number, type: string, level: number, data: Uint8Array}} */ msg) => {
  let result;
  try {
    result = owned(compress(msg.type, msg.level, msg.data));
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, message: err instanceof Error ? err.message : String(err) });
    return;
  }
  port.postMessage({ id: msg.id, ok: true, data: result }, [result.buffer]);
});
