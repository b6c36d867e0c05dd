import type { PathInfo } from "../nix/nix-cli.ts";

/** What a push will upload, and why the rest is skipped. */
export interface PushPlan {
  /** Paths to upload, by store path hash. */
  paths: Map<string, PathInfo>;
  /** Paths in the closure (or given, with `--no-closure`). */
  numAll: number;
  /** Skipped because the cache has them. */
  numAlreadyCached: number;
  /** Skipped because an upstream cache signed them. */
  numUpstream: number;
}

/** What planning needs from Nix and from the server. */
export interface PlanSources {
  pathInfo(paths: string[], recursive: boolean): Promise<PathInfo[]>;
  /** Hashes among `hashes` the cache lacks. */
  getMissingPaths(hashes: string[]): Promise<string[]>;
}

export interface PlanOptions {
  noClosure: boolean;
  ignoreUpstreamCacheFilter: boolean;
  /** Key names (before `:`) of upstream caches, from the cache's config. */
  upstreamCacheKeyNames: string[];
}

/** The 32-character hash part of a store path. */
export function storePathHash(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1).slice(0, 32);
}

/** True when one of `sigs` (`name:base64`) is by a key named in `keyNames`. */
export function signedByUpstream(sigs: string[] | undefined, keyNames: string[]): boolean {
  return (sigs ?? []).some((sig) => {
    const colon = sig.indexOf(":");
    return colon >= 0 && keyNames.includes(sig.slice(0, colon));
  });
}

/**
 * Attic's push plan: the closure of `roots` (unless `noClosure`), minus paths signed by an
 * upstream cache (unless the filter is off), minus paths the cache already has.
 */
export async function planPush(roots: string[], sources: PlanSources, options: PlanOptions): Promise<PushPlan> {
  const infos = await sources.pathInfo(roots, !options.noClosure);
  const paths = new Map<string, PathInfo>();
  for (const info of infos) paths.set(storePathHash(info.path), info);
  const numAll = paths.size;
  if (!options.ignoreUpstreamCacheFilter) {
    for (const [hash, info] of paths) if (signedByUpstream(info.signatures, options.upstreamCacheKeyNames)) paths.delete(hash);
  }
  const numFiltered = paths.size;
  if (numFiltered === 0) return { paths, numAll, numAlreadyCached: 0, numUpstream: numAll };
  const missing = new Set(await sources.getMissingPaths([...paths.keys()]));
  for (const hash of [...paths.keys()]) if (!missing.has(hash)) paths.delete(hash);
  return { paths, numAll, numAlreadyCached: numFiltered - paths.size, numUpstream: numAll - numFiltered };
}
