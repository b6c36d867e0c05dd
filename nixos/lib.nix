# Pure helpers shared by the NixOS module (atticd.nix), the package (package.nix) and the tests.
#
# Only `builtins` are used, never nixpkgs' `lib`, so that the tests in test/nixos can evaluate
# every function here with a plain `nix-instantiate` on a machine without nixpkgs.
let
  inherit (builtins)
    any
    attrNames
    baseNameOf
    dirOf
    elemAt
    filter
    hasAttr
    length
    mapAttrs
    match
    replaceStrings
    split
    stringLength
    substring
    ;

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  hasInfix =
    infix: s:
    let
      n = stringLength infix;
      last = stringLength s - n;
      go = i: i <= last && (substring i n s == infix || go (i + 1));
    in
    go 0;

  # The state directory the unit gets from StateDirectory = "atticd".
  stateDirectory = "/var/lib/atticd";

  isUnderStateDirectory = path: path == stateDirectory || hasPrefix "${stateDirectory}/" path;
in
rec {
  inherit hasPrefix hasInfix stateDirectory;

  /** Attic's defaults, which the module sets with mkDefault: SQLite in the state directory. */
  defaultDatabaseUrl = "sqlite://${stateDirectory}/server.db?mode=rwc";

  /** ... and local storage there. A user's `storage` table replaces this one as a whole. */
  defaultStorage = {
    type = "local";
    path = "${stateDirectory}/storage";
  };

  /** Quotes a string for a POSIX shell (what nixpkgs' lib.escapeShellArg does). */
  escapeShellArg = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";

  /**
    Replaces each `@name@` in `template` by the shell-quoted value of `values.name`, so a path
    with spaces or quotes stays one word. Fails when a placeholder is left over, which catches
    a template and a module that disagree.
  */
  substitutePlaceholders =
    template: values:
    let
      names = attrNames values;
      result = replaceStrings (map (n: "@${n}@") names) (map (n: escapeShellArg values.${n}) names) template;
      leftover = match ".*(@[A-Za-z]+@).*" result;
    in
    if leftover == null then
      result
    else
      throw "nixos/lib.nix: placeholder ${elemAt leftover 0} has no value";

  /**
    True when `database.url` names a PostgreSQL server on this machine, so the unit must start
    after (and require) postgresql.service. Attic's test: the URL starts with `postgresql://`
    and contains `localhost`, `127.0.0.1` or `/run/postgresql`. We also accept `postgres://`
    (both schemes are valid), `[::1]`, and an empty host (`postgresql:///db`), which libpq
    resolves to the local Unix socket.
  */
  isLocalPostgresUrl =
    url:
    let
      scheme = if hasPrefix "postgresql://" url then "postgresql://" else if hasPrefix "postgres://" url then "postgres://" else null;
    in
    scheme != null
    && (
      hasPrefix "${scheme}/" url
      || any (local: hasInfix local url) [
        "localhost"
        "127.0.0.1"
        "[::1]"
        "/run/postgresql"
      ]
    );

  /**
    The file of a `sqlite://PATH?...` URL, or null (other schemes, or in-memory databases).
  */
  sqlitePath =
    url:
    let
      m = match "sqlite://([^?]*)(\\?.*)?" url;
      path = if m == null then null else elemAt m 0;
    in
    if path == null || path == "" || path == ":memory:" then null else path;

  /**
    Paths outside the state directory that the unit must be allowed to write under
    ProtectSystem = "strict": local storage (as in Attic's module) and, in addition, the
    directory of a SQLite database.
  */
  extraWritablePaths =
    settings:
    let
      storage = settings.storage or { };
      storagePaths = if (storage.type or "") == "local" then [ storage.path ] else [ ];
      db = sqlitePath (settings.database.url or "");
      dbPaths = if db == null then [ ] else [ (dirOf db) ];
    in
    filter (p: !(isUnderStateDirectory p)) (storagePaths ++ dbPaths);

  /**
    The registry tarball URL npm would record for a lock entry, e.g. `@types/node` 20.19.43 →
    https://registry.npmjs.org/@types/node/-/node-20.19.43.tgz. The package name is the entry's
    `name` (set for aliases) or the last `node_modules/` segment of its key.
  */
  registryTarballUrl =
    key: entry:
    let
      segments = filter (s: builtins.isString s && s != "") (split "node_modules/" key);
      lastSegment = elemAt segments (length segments - 1);
      name = entry.name or lastSegment;
      unscoped = baseNameOf name;
    in
    "https://registry.npmjs.org/${name}/-/${unscoped}-${entry.version}.tgz";

  /**
    Whether npm installs an entry with these `os`/`cpu` lists on `value` (npm's rule: a list of
    names allows those, a list of "!name" excludes those).
  */
  npmPlatformAllows =
    list: value:
    let
      negated = filter (x: hasPrefix "!" x) list;
      plain = filter (x: !(hasPrefix "!" x)) list;
    in
    !(builtins.elem "!${value}" negated) && (plain == [ ] || builtins.elem value plain);

  /**
    Rewrites a package-lock.json (v2/v3) so `npm install --offline` needs no network: every
    registry entry gets `resolved = "file:<fetched tarball>"`, fetched by `fetchurl` with the
    entry's `integrity`. Our lock has no `resolved` fields (npm's
    omit-lockfile-registry-resolved), so the URL is derived from name and version.

    `platform` (`{ os = "linux"; cpu = "x64"; }`, npm's names) leaves out optional entries
    built for other systems (esbuild's, TypeScript's and rolldown's per-platform binaries):
    npm skips those without fetching them. Without it, everything is fetched.

    Workspace links and the workspace folders are kept as they are, which is why we do not use
    nixpkgs' `importNpmLock` function itself: it would replace a workspace link by a copy of
    the folder in the store, and the build's `dist` directories would never be seen.
  */
  offlineNpmLock =
    {
      fetchurl,
      lock,
      platform ? null,
    }:
    lock
    // {
      packages = mapAttrs (
        key: entry:
        let
          forThisPlatform =
            platform == null
            || !(entry.optional or false)
            || (npmPlatformAllows (entry.os or [ ]) platform.os && npmPlatformAllows (entry.cpu or [ ]) platform.cpu);
          isRegistryEntry =
            hasInfix "node_modules/" key
            && !(entry.link or false)
            && hasAttr "integrity" entry
            && (!(hasAttr "resolved" entry) || match "https?://.*" entry.resolved != null);
          url = entry.resolved or (registryTarballUrl key entry);
        in
        if isRegistryEntry && forThisPlatform then
          entry
          // {
            resolved = "file:${
              fetchurl {
                inherit url;
                hash = entry.integrity;
              }
            }";
          }
        else
          entry
      ) lock.packages;
    };
}
