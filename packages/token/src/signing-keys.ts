import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { ConfigError, type JwtConfig } from "@attic-ts/core";

/** The `[jwt.signing]` table: exactly one of the three keys. */
export type JwtSigningConfig = NonNullable<JwtConfig["signing"]>;

/** Key material for {@link JwtTokenAuthority}, by algorithm. */
export type SigningMaterial =
  /** HS256: the raw secret bytes (any bytes, not necessarily UTF-8). */
  | { kind: "hs256"; secret: Uint8Array }
  /** RS256 with a private key: signs and verifies. */
  | { kind: "rs256"; privateKey: KeyObject }
  /** RS256 with only a public key: verifies, cannot mint. */
  | { kind: "rs256-pubkey"; publicKey: KeyObject };

/** Full config key names, used in error messages (never the values: they are secrets). */
export const HS256_SECRET_KEY = "jwt.signing.token-hs256-secret-base64";
export const RS256_SECRET_KEY = "jwt.signing.token-rs256-secret-base64";
export const RS256_PUBKEY_KEY = "jwt.signing.token-rs256-pubkey-base64";

/** jose (and jwt-simple) refuse RSA moduli below this many bits. */
const MIN_RSA_BITS = 2048;

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard, padded base64 as strictly as Rust's `base64::STANDARD` engine (Node's
 * decoder silently skips bad characters). Returns null on invalid input. With
 * `allowWhitespace`, ASCII whitespace is removed first: `base64` wraps lines at 76 columns
 * unless given `-w0`, and the whitespace carries no data.
 */
export function decodeBase64Strict(text: string, allowWhitespace = false): Buffer | null {
  const compact = allowWhitespace ? text.replace(/[\t\n\r ]/g, "") : text;
  if (!CANONICAL_BASE64.test(compact)) return null;
  const bytes = Buffer.from(compact, "base64");
  // Rejects non-zero trailing bits ("QR==" vs "QQ=="), which the RequireCanonical mode refuses.
  return bytes.toString("base64") === compact ? bytes : null;
}

function decodeConfigBase64(text: string, configKey: string): Buffer {
  const bytes = decodeBase64Strict(text, true);
  if (!bytes) throw new ConfigError(`${configKey}: expected standard base64 (A-Z a-z 0-9 + /, "=" padding)`);
  return bytes;
}

function decodePem(text: string, configKey: string, what: string): string {
  const bytes = decodeConfigBase64(text, configKey);
  let pem: string;
  try {
    pem = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${configKey}: the base64 must decode to a PEM text file (${what}), not binary data`);
  }
  return pem;
}

function pemLabel(pem: string): string | undefined {
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
}

function checkRsaKey(key: KeyObject, configKey: string): KeyObject {
  if (key.asymmetricKeyType !== "rsa") {
    throw new ConfigError(`${configKey}: expected an RSA key, got ${key.asymmetricKeyType ?? "an unknown key type"}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new ConfigError(`${configKey}: the RSA key has ${bits} bits; RS256 needs at least ${MIN_RSA_BITS}`);
  }
  return key;
}

/** HS256: the secret is the raw bytes the base64 decodes to (Attic PR #181: any bytes). */
export function hs256SecretFromBase64(text: string, configKey = HS256_SECRET_KEY): Uint8Array {
  const bytes = decodeConfigBase64(text, configKey);
  if (bytes.length === 0) throw new ConfigError(`${configKey}: the secret is empty`);
  return new Uint8Array(bytes);
}

/** An RSA private key from PEM text: PKCS#1 ("RSA PRIVATE KEY") or unencrypted PKCS#8 ("PRIVATE KEY"). */
export function rs256PrivateKeyFromPem(pem: string, configKey = RS256_SECRET_KEY): KeyObject {
  const label = pemLabel(pem);
  if (label !== "RSA PRIVATE KEY" && label !== "PRIVATE KEY") {
    const hint = label?.includes("PUBLIC") ? "; a public key goes into token-rs256-pubkey-base64" : "";
    throw new ConfigError(
      `${configKey}: expected a PEM "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (PKCS#8), got ${label ? `"${label}"` : "no PEM block"}${hint}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new ConfigError(`${configKey}: cannot read the private key: ${(err as Error).message}`, undefined, { cause: err });
  }
  return checkRsaKey(key, configKey);
}

/** An RSA public key from PEM text: PKCS#1 ("RSA PUBLIC KEY") or SPKI ("PUBLIC KEY"). */
export function rs256PublicKeyFromPem(pem: string, configKey = RS256_PUBKEY_KEY): KeyObject {
  const label = pemLabel(pem);
  if (label !== "RSA PUBLIC KEY" && label !== "PUBLIC KEY") {
    const hint = label?.includes("PRIVATE") ? "; a private key goes into token-rs256-secret-base64" : "";
    throw new ConfigError(
      `${configKey}: expected a PEM "RSA PUBLIC KEY" (PKCS#1) or "PUBLIC KEY" (SPKI), got ${label ? `"${label}"` : "no PEM block"}${hint}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new ConfigError(`${configKey}: cannot read the public key: ${(err as Error).message}`, undefined, { cause: err });
  }
  return checkRsaKey(key, configKey);
}

/** RS256 signing key from base64 of a PEM private key (`openssl genrsa -traditional 4096 | base64 -w0`). */
export function rs256PrivateKeyFromBase64(text: string, configKey = RS256_SECRET_KEY): KeyObject {
  return rs256PrivateKeyFromPem(decodePem(text, configKey, "an RSA private key"), configKey);
}

/** RS256 verify-only key from base64 of a PEM public key. */
export function rs256PublicKeyFromBase64(text: string, configKey = RS256_PUBKEY_KEY): KeyObject {
  return rs256PublicKeyFromPem(decodePem(text, configKey, "an RSA public key"), configKey);
}

/** Checks key material passed in code (not from config) before it is used. */
export function checkSigningMaterial(signing: SigningMaterial): SigningMaterial {
  switch (signing.kind) {
    case "hs256":
      if (!(signing.secret instanceof Uint8Array) || signing.secret.length === 0) {
        throw new ConfigError("HS256 signing needs a non-empty secret (Uint8Array)");
      }
      return signing;
    case "rs256":
      if (signing.privateKey.type !== "private") throw new ConfigError("RS256 signing needs a private KeyObject");
      checkRsaKey(signing.privateKey, "rs256 private key");
      return signing;
    case "rs256-pubkey":
      if (signing.publicKey.type !== "public") throw new ConfigError("RS256 verification needs a public KeyObject");
      checkRsaKey(signing.publicKey, "rs256 public key");
      return signing;
    default:
      throw new ConfigError(`unknown signing kind ${JSON.stringify((signing as { kind: unknown }).kind)}`);
  }
}

/** Builds key material from a `[jwt.signing]` table (which must hold exactly one key). */
export function signingFromConfig(signing: JwtSigningConfig): SigningMaterial {
  const present = Object.entries(signing).filter(([, v]) => v !== undefined);
  if (present.length !== 1) {
    throw new ConfigError(
      "[jwt.signing]: expected exactly one of token-hs256-secret-base64, token-rs256-secret-base64, token-rs256-pubkey-base64",
    );
  }
  const hs = signing["token-hs256-secret-base64"];
  if (hs !== undefined) return { kind: "hs256", secret: hs256SecretFromBase64(hs) };
  const rs = signing["token-rs256-secret-base64"];
  if (rs !== undefined) return { kind: "rs256", privateKey: rs256PrivateKeyFromBase64(rs) };
  return { kind: "rs256-pubkey", publicKey: rs256PublicKeyFromBase64(signing["token-rs256-pubkey-base64"]!) };
}
