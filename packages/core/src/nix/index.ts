export * from "./nix-base32.ts";
export * from "./hash.ts";
export * from "./store-path.ts";
export * from "./narinfo.ts";
export * from "./fingerprint.ts";
export * from "./signing-key.ts";
export * from "./hashing-stream.ts";
