/**
 * Domain errors. `code` is Attic's error name (the `error` field of its JSON error body), so
 * a host maps errors to HTTP by string compare alone and never needs `instanceof` across
 * package copies. Nothing here knows about HTTP.
 */
export type AtticErrorCode =
  | "NotFound"
  | "Unauthorized"
  | "NoSuchCache"
  | "CacheAlreadyExists"
  | "NoSuchObject"
  | "InvalidCompressionType"
  | "IncompleteNar"
  | "AccessError"
  | "RequestError"
  | "InvalidStorePath"
  | "InvalidStorePathName"
  | "InvalidStorePathHash"
  | "InvalidCacheName"
  | "HashError"
  | "SigningError"
  | "BlobNotFound"
  | "StorageError"
  | "DatabaseError"
  | "ConfigError"
  | "InternalServerError";

export interface AtticErrorOptions extends ErrorOptions {
  /**
   * Whether the caller may learn that the cache exists. When false, a host answers
   * `Unauthorized` instead of `NoSuchCache`/`NoSuchObject`/`AccessError` (Attic's rule).
   */
  discoveryPermission?: boolean;
  /**
   * False for an answer rather than a failure (a 404 a binary cache gives all day, for paths
   * it does not hold): no stack trace is captured. Capturing one was 6 % of the CPU time of a
   * narinfo miss, and nobody reads the stack of a miss. Default true.
   */
  stackTrace?: boolean;
}

export class AtticError extends Error {
  readonly code: AtticErrorCode;
  discoveryPermission: boolean;

  constructor(code: AtticErrorCode, message: string, options: AtticErrorOptions = {}) {
    const stackTraceLimit = Error.stackTraceLimit;
    if (options.stackTrace === false) Error.stackTraceLimit = 0;
    try {
      super(message, options);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = new.target.name;
    this.code = code;
    this.discoveryPermission = options.discoveryPermission ?? true;
  }
}

/** Any AtticError, also one from another copy of this package (matched by shape, not class). */
export function isAtticError(err: unknown): err is AtticError {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === "string" &&
    typeof (err as { discoveryPermission?: unknown }).discoveryPermission === "boolean"
  );
}

/** A route or file name that does not exist (Attic's generic 404). */
export class NotFoundError extends AtticError {
  constructor(options?: AtticErrorOptions) {
    super("NotFound", "The URL you requested was not found.", { stackTrace: false, ...options });
  }
}

export class NoSuchCacheError extends AtticError {
  constructor(options?: AtticErrorOptions) {
    super("NoSuchCache", "The requested cache does not exist.", { stackTrace: false, ...options });
  }
}

export class NoSuchObjectError extends AtticError {
  constructor(options?: AtticErrorOptions) {
    super("NoSuchObject", "The requested object does not exist.", { stackTrace: false, ...options });
  }
}

export class CacheAlreadyExistsError extends AtticError {
  constructor(options?: AtticErrorOptions) {
    super("CacheAlreadyExists", "The cache already exists.", options);
  }
}

export class InvalidCompressionTypeError extends AtticError {
  constructor(readonly compressionName: string, options?: AtticErrorOptions) {
    super("InvalidCompressionType", `Invalid compression type "${compressionName}".`, options);
  }
}

export class IncompleteNarError extends AtticError {
  constructor(options?: AtticErrorOptions) {
    super("IncompleteNar", "The requested NAR has missing chunks and needs to be repaired.", options);
  }
}

/** A permission failure; `reason` is the inner text Attic prints after "Access error: ". */
export class AccessError extends AtticError {
  constructor(readonly reason: string, options?: AtticErrorOptions) {
    super("AccessError", `Access error: ${reason}`, options);
  }
}

export class UnauthorizedError extends AtticError {
  constructor(options?: AtticErrorOptions) {
    super("Unauthorized", "Unauthorized.", options);
  }
}

/** Bad client input; `cause` text follows Attic's "General request error: ". */
export class RequestError extends AtticError {
  constructor(readonly detail: string, options?: AtticErrorOptions) {
    super("RequestError", `General request error: ${detail}`, options);
  }
}

/** Invalid Nix-level input (store path, hash, cache name). */
export class NixFormatError extends AtticError {
  constructor(
    code: "InvalidStorePath" | "InvalidStorePathName" | "InvalidStorePathHash" | "InvalidCacheName" | "HashError",
    message: string,
    options?: AtticErrorOptions,
  ) {
    super(code, message, options);
  }
}

export class SigningError extends AtticError {
  constructor(message: string, options?: AtticErrorOptions) {
    super("SigningError", message, options);
  }
}

/** A blob the database says exists is absent from storage. Kept apart from backend failures. */
export class BlobNotFoundError extends AtticError {
  constructor(readonly key: string, options?: AtticErrorOptions) {
    super("BlobNotFound", `Storage object ${key} does not exist.`, options);
  }
}

/** A storage backend failed; the host logs the cause and answers a generic 500. */
export class StorageError extends AtticError {
  constructor(message: string, options?: AtticErrorOptions) {
    super("StorageError", message, options);
  }
}

/** A database failed; the host logs the cause and answers a generic 500. */
export class DatabaseError extends AtticError {
  constructor(message: string, options?: AtticErrorOptions) {
    super("DatabaseError", message, options);
  }
}

/**
 * An upload's lease is gone: garbage collection reclaimed it after its renewals failed for a
 * whole lease period, giving back every hold taken under it. Nothing more may be held or
 * committed under it; the upload fails and removes what it created.
 */
export class UploadLeaseLostError extends DatabaseError {
  constructor(
    readonly leaseId: number,
    options?: AtticErrorOptions,
  ) {
    super(`The upload's lease ${leaseId} expired and was reclaimed by garbage collection`, options);
  }
}

/** Invalid configuration: names the source (file or variable), the key and what was expected. */
export class ConfigError extends AtticError {
  constructor(
    message: string,
    readonly source?: string,
    options?: AtticErrorOptions,
  ) {
    super("ConfigError", source ? `${source}: ${message}` : message, options);
  }
}
