import { createPublicKey, type KeyObject } from "node:crypto";
import { CompactSign, compactVerify } from "jose";
import {
  ConfigError,
  systemClock,
  type Clock,
  type JwtConfig,
  type Principal,
  type TokenAuthority,
  type TokenSpec,
} from "@attic-ts/core";
import { CLAIM_NAMESPACE, parseAtticClaims, serializeGrants } from "./claims.ts";
import { checkSigningMaterial, signingFromConfig, type SigningMaterial } from "./signing-keys.ts";

/** Attic's error text when minting with a verify-only key (server/src/adm/command/make_token.rs). */
export const PUBKEY_ONLY_MESSAGE = "Pubkey-only JWT authentication cannot create signed JWTs";

/** Why the server cannot start without a signing key; the host resolves the env variables first. */
export const MISSING_SIGNING_MESSAGE =
  "no JWT signing key: set one of ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64, ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64 " +
  "or ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64, or put exactly one of token-rs256-pubkey-base64, " +
  "token-rs256-secret-base64, token-hs256-secret-base64 in [jwt.signing] " +
  "(e.g. an RSA key from `openssl genrsa -traditional 4096 | base64 -w0`)";

/** jwt-simple's limit on the encoded header, in characters. */
const MAX_HEADER_LENGTH = 8192;

export interface JwtTokenAuthorityOptions {
  signing: SigningMaterial;
  /** `[jwt] token-bound-issuer`: tokens must carry this `iss`; minted tokens get it. */
  boundIssuer?: string;
  /**
   * `[jwt] token-bound-audiences`: a token's `aud` must share one value with this list; minted
   * tokens get the list. An empty list rejects every token, as in Attic.
   */
  boundAudiences?: readonly string[];
  /** Source of "now" for expiry checks and minting; defaults to the system clock. */
  clock?: Clock;
}

type Payload = Record<string, unknown>;

const isTimestamp = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isOptional = (v: unknown, check: (v: unknown) => boolean): boolean => v === undefined || check(v);
const isString = (v: unknown): v is string => typeof v === "string";

/**
 * Attic-compatible JWTs (HS256 or RS256) on top of jose. Verification follows jwt-simple as
 * Attic configures it: the algorithm is fixed by the key type, `exp`/`nbf`/`iat` are checked
 * when present with zero clock tolerance, a bound issuer or audience must be present and
 * match, and the Attic claim is required. Any failure yields null, never an exception.
 */
export class JwtTokenAuthority implements TokenAuthority {
  readonly canSign: boolean;
  /** The only `alg` this authority accepts and produces. */
  readonly algorithm: "HS256" | "RS256";
  readonly #verifyKey: Uint8Array | KeyObject;
  readonly #signKey: Uint8Array | KeyObject | null;
  readonly #boundIssuer: string | undefined;
  readonly #boundAudiences: readonly string[] | undefined;
  readonly #clock: Clock;

  constructor(options: JwtTokenAuthorityOptions) {
    const signing = checkSigningMaterial(options.signing);
    switch (signing.kind) {
      case "hs256":
        this.algorithm = "HS256";
        this.#verifyKey = this.#signKey = Uint8Array.from(signing.secret);
        break;
      case "rs256":
        this.algorithm = "RS256";
        this.#signKey = signing.privateKey;
        this.#verifyKey = createPublicKey(signing.privateKey);
        break;
      case "rs256-pubkey":
        this.algorithm = "RS256";
        this.#signKey = null;
        this.#verifyKey = signing.publicKey;
        break;
    }
    this.canSign = this.#signKey !== null;
    this.#boundIssuer = options.boundIssuer;
    this.#boundAudiences = options.boundAudiences ? [...options.boundAudiences] : undefined;
    this.#clock = options.clock ?? systemClock;
  }

  /** Builds the authority from Attic's `[jwt]` table; throws ConfigError without a signing key. */
  static fromConfig(config: JwtConfig, options: { clock?: Clock } = {}): JwtTokenAuthority {
    if (!config.signing) throw new ConfigError(MISSING_SIGNING_MESSAGE);
    return new JwtTokenAuthority({
      signing: signingFromConfig(config.signing),
      boundIssuer: config["token-bound-issuer"],
      boundAudiences: config["token-bound-audiences"],
      clock: options.clock,
    });
  }

  async verify(jwt: string): Promise<Principal | null> {
    try {
      const payload = await this.#verifiedPayload(jwt);
      return payload && this.#claimsAcceptable(payload) ? parseAtticClaims(payload) : null;
    } catch {
      // Bad signature, wrong alg, malformed token: Attic logs at debug and goes anonymous.
      return null;
    }
  }

  async mint(spec: TokenSpec): Promise<string> {
    if (!this.#signKey) throw new ConfigError(PUBKEY_ONLY_MESSAGE);
    const payload = new TextEncoder().encode(JSON.stringify(this.claimsFor(spec)));
    // jwt-simple's header field order: alg, then typ.
    return new CompactSign(payload).setProtectedHeader({ alg: this.algorithm, typ: "JWT" }).sign(this.#signKey);
  }

  /**
   * The claims `mint` signs, in jwt-simple's field order: `exp` (now + validity, whole
   * seconds), `nbf` (now), `iss`, `sub`, `aud` (when bound), then the Attic claim. No `iat`
   * and no `jti`, as in Attic's `Token::new`.
   */
  claimsFor(spec: TokenSpec): Record<string, unknown> {
    if (typeof spec.sub !== "string") throw new TypeError("sub must be a string");
    if (!Number.isFinite(spec.validitySeconds) || spec.validitySeconds < 0) {
      throw new TypeError("validitySeconds must be a non-negative number of seconds");
    }
    const nowMs = this.#clock.now().getTime();
    const claims: Record<string, unknown> = {
      exp: Math.floor((nowMs + spec.validitySeconds * 1000) / 1000),
      nbf: Math.floor(nowMs / 1000),
    };
    if (this.#boundIssuer !== undefined) claims.iss = this.#boundIssuer;
    claims.sub = spec.sub;
    if (this.#boundAudiences !== undefined) claims.aud = [...this.#boundAudiences];
    claims[CLAIM_NAMESPACE] = serializeGrants(spec.grants);
    return claims;
  }

  /** Signature, algorithm and header checks; returns the JSON payload object or null. */
  async #verifiedPayload(jwt: string): Promise<Payload | null> {
    if (typeof jwt !== "string" || jwt.indexOf(".") > MAX_HEADER_LENGTH) return null;
    const { payload, protectedHeader } = await compactVerify(jwt, this.#verifyKey, { algorithms: [this.algorithm] });
    // jwt-simple: a present `typ` must be "JWT" or end in "+JWT" (case-insensitive).
    const typ = protectedHeader.typ;
    if (typ !== undefined) {
      if (typeof typ !== "string") return null;
      const upper = typ.toUpperCase();
      if (upper !== "JWT" && !upper.endsWith("+JWT")) return null;
    }
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Payload) : null;
  }

  /** Registered-claim types, times (zero tolerance) and the bound issuer/audiences. */
  #claimsAcceptable(p: Payload): boolean {
    if (![p.exp, p.nbf, p.iat].every((v) => isOptional(v, isTimestamp))) return false;
    if (![p.iss, p.sub, p.jti, p.nonce].every((v) => isOptional(v, isString))) return false;
    const aud = p.aud;
    if (!isOptional(aud, (v) => isString(v) || (Array.isArray(v) && v.every(isString)))) return false;

    // jwt-simple reads fractional timestamps truncated to whole seconds and compares them with
    // a sub-second "now": iat <= now, nbf <= now, now <= exp.
    const now = this.#clock.now().getTime() / 1000;
    const seconds = (v: unknown): number | undefined => (v === undefined ? undefined : Math.floor(v as number));
    const iat = seconds(p.iat);
    const nbf = seconds(p.nbf);
    const exp = seconds(p.exp);
    if (iat !== undefined && iat > now) return false;
    if (nbf !== undefined && nbf > now) return false;
    if (exp !== undefined && now > exp) return false;

    if (this.#boundIssuer !== undefined && p.iss !== this.#boundIssuer) return false;
    if (this.#boundAudiences !== undefined) {
      if (aud === undefined) return false;
      const tokenAudiences = typeof aud === "string" ? [aud] : (aud as string[]);
      if (!tokenAudiences.some((a) => this.#boundAudiences!.includes(a))) return false;
    }
    return true;
  }
}
