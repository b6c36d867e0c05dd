import type { IncomingMessage } from "node:http";
import { RequestError } from "@attic-ts/core";

/** Header carrying the upload info JSON (Attic's `ATTIC_NAR_INFO`). */
export const NAR_INFO_HEADER = "X-Attic-Nar-Info";
/** Header giving the byte length of a JSON preamble at the start of the body. */
export const NAR_INFO_PREAMBLE_SIZE_HEADER = "X-Attic-Nar-Info-Preamble-Size";

/** What `PUT /_api/v1/upload-path` carries: the upload info (unvalidated) and the NAR. */
export interface UploadRequest {
  info: unknown;
  /** The rest of the request body: the uncompressed NAR, streamed, never buffered whole. */
  nar: AsyncIterable<Uint8Array>;
}

const U64_MAX = 2n ** 64n - 1n;

/** Rust's `HeaderValue::to_str`: visible ASCII and tab only. */
function isVisibleAscii(value: string): boolean {
  return /^[\t\x20-\x7e]*$/.test(value);
}

/** Rust's `usize::from_str`: an optional `+`, decimal digits, at most u64::MAX. */
function parseUnsigned(value: string): bigint | null {
  if (!/^\+?[0-9]+$/.test(value)) return null;
  const n = BigInt(value);
  return n > U64_MAX ? null : n;
}

function parseInfo(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as unknown;
  } catch (err) {
    throw new RequestError(`Invalid upload info: ${(err as Error).message}`);
  }
}

/**
 * Reads exactly `size` bytes from `source`. The slice that holds the end of the preamble is
 * split; its remainder is returned so the NAR stream can start with it.
 */
async function readPreamble(source: AsyncIterator<Buffer>, size: number): Promise<{ preamble: Buffer; leftover: Buffer | null }> {
  const parts: Buffer[] = [];
  let got = 0;
  let leftover: Buffer | null = null;
  while (got < size) {
    const next = await source.next();
    if (next.done) break;
    const slice = next.value;
    const need = size - got;
    if (slice.length > need) {
      parts.push(slice.subarray(0, need));
      leftover = slice.subarray(need);
      got = size;
    } else {
      parts.push(slice);
      got += slice.length;
    }
  }
  if (got !== size) throw new RequestError("Upload info doesn't match specified size");
  return { preamble: Buffer.concat(parts), leftover };
}

async function* remainder(leftover: Buffer | null, source: AsyncIterator<Buffer>): AsyncGenerator<Uint8Array> {
  try {
    if (leftover && leftover.length > 0) yield leftover;
    for (;;) {
      const next = await source.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await source.return?.();
  }
}

/**
 * Splits an upload request into its info and NAR, as Attic's `upload_path`:
 * `X-Attic-Nar-Info-Preamble-Size` is checked first (the info is the first n bytes of the
 * body, n at most `maxNarInfoSize`), else `X-Attic-Nar-Info` holds the JSON, else 400.
 * The request stream is iterated without `destroyOnReturn`, so when the engine stops reading
 * early (it rejected the upload) the connection survives to carry the error response.
 */
export async function readUploadRequest(req: IncomingMessage, maxNarInfoSize: number): Promise<UploadRequest> {
  const source = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  const preambleHeader = req.headers[NAR_INFO_PREAMBLE_SIZE_HEADER.toLowerCase()];
  if (preambleHeader !== undefined) {
    const raw = Array.isArray(preambleHeader) ? preambleHeader[0]! : preambleHeader;
    if (!isVisibleAscii(raw)) throw new RequestError(`${NAR_INFO_PREAMBLE_SIZE_HEADER} has invalid encoding`);
    const size = parseUnsigned(raw);
    if (size === null) throw new RequestError(`${NAR_INFO_PREAMBLE_SIZE_HEADER} must be a valid unsigned integer`);
    if (size > BigInt(maxNarInfoSize)) throw new RequestError("Upload info is too large");
    const { preamble, leftover } = await readPreamble(source, Number(size));
    return { info: parseInfo(preamble), nar: remainder(leftover, source) };
  }

  const infoHeader = req.headers[NAR_INFO_HEADER.toLowerCase()];
  if (infoHeader === undefined) throw new RequestError(`${NAR_INFO_HEADER} must be set`);
  const raw = Array.isArray(infoHeader) ? infoHeader[0]! : infoHeader;
  // Node decodes header bytes as latin1; recover the bytes so UTF-8 JSON parses as in Attic.
  return { info: parseInfo(Buffer.from(raw, "latin1")), nar: remainder(null, source) };
}
