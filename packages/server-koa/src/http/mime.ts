/** Attic's MIME constants (attic/src/mime.rs). */
export const NIX_CACHE_INFO_MIME = "text/x-nix-cache-info";
export const NARINFO_MIME = "text/x-nix-narinfo";
export const NAR_MIME = "application/x-nix-nar";
