/**
 * An error answer from the server. Structured answers (`{code, error, message}`) print as
 * `{error}: {message}`; anything else as `HTTP {status}: {body}`, as Attic's client prints them.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Attic's error name (e.g. `NoSuchCache`), when the body was structured. */
    readonly error: string | undefined,
    message: string,
  ) {
    super(message);
  }

  /** Builds the error from a non-2xx response, consuming its body. */
  static async fromResponse(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => "");
    try {
      const body = JSON.parse(text) as { error?: unknown; message?: unknown };
      if (typeof body.error === "string" && typeof body.message === "string") {
        return new ApiError(res.status, body.error, `${body.error}: ${body.message}`);
      }
    } catch {
      // not JSON: fall through to the unstructured form
    }
    const status = res.statusText ? `${res.status} ${res.statusText}` : String(res.status);
    return new ApiError(res.status, undefined, `HTTP ${status}: ${text}`);
  }
}
