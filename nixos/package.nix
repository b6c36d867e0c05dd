# attic-ts built from this repository's npm workspace and its package-lock.json:
# `atticd`, `atticadm` and (once built) the `attic` client, on nixpkgs' default Node.js.
#
# No npmDepsHash: every dependency is fetched on its own with the lock's `integrity` hash
# (nixos/lib.nix `offlineNpmLock`), and nixpkgs' importNpmLock.npmConfigHook installs them
# offline. Native addons are compiled from source: sqlite3 and zstd-napi with their bundled C
# sources, node-liblzma against nixpkgs' xz (through pkg-config).
{
  lib,
  stdenv,
  buildNpmPackage,
  importNpmLock,
  fetchurl,
  runCommand,
  makeWrapper,
  nodejs,
  pkg-config,
  python3,
  xz,
  # The repository; by default the one this file lives in, without build outputs.
  src ? lib.cleanSourceWith {
    name = "attic-ts-source";
    src = ../.;
    filter =
      path: type:
      let
        name = baseNameOf path;
      in
      !(
        builtins.elem name [
          "node_modules"
          "dist"
          ".git"
          ".tmp"
          "result"
        ]
        || lib.hasSuffix ".tsbuildinfo" name
      );
  },
}:

let
  helpers = import ./lib.nix;
  rootPackage = lib.importJSON "${src}/package.json";

  # npm's names for this system, to skip other systems' optional binaries.
  npmPlatform = {
    os = stdenv.hostPlatform.parsed.kernel.name; # "linux", "darwin"
    cpu =
      {
        x86_64 = "x64";
        aarch64 = "arm64";
        i686 = "ia32";
      }
      .${stdenv.hostPlatform.parsed.cpu.name} or stdenv.hostPlatform.parsed.cpu.name;
  };
  serverPackage = lib.importJSON "${src}/packages/server-koa/package.json";

  # What npmConfigHook expects in $npmDeps: the package.json and a lock whose every registry
  # entry resolves to a file in the store.
  npmDeps =
    runCommand "attic-ts-npm-deps"
      {
        passAsFile = [
          "package"
          "packageLock"
        ];
        package = builtins.toJSON rootPackage;
        packageLock = builtins.toJSON (
          helpers.offlineNpmLock {
            inherit fetchurl;
            lock = lib.importJSON "${src}/package-lock.json";
            platform = npmPlatform;
          }
        );
      }
      ''
        mkdir "$out"
        cp "$packagePath" "$out/package.json"
        cp "$packageLockPath" "$out/package-lock.json"
      '';

  # Node flags per command: atticd's shebang flags (see packages/server-koa/bin/atticd.js; V8
  # reads them only at start-up, so the wrapper must pass them).
  nodeFlags = {
    atticd = "--max-semi-space-size=4 --no-allocation-site-pretenuring --heap-growing-percent=20";
  };
  # Environment per command, set unless already set: atticd's shebang (two malloc arenas, a
  # fixed mmap threshold).
  wrapperEnv = {
    atticd = "--set-default MALLOC_ARENA_MAX 2 --set-default MALLOC_MMAP_THRESHOLD_ 65536";
  };

  # The commands this package installs: name → script inside the workspace.
  commands = {
    atticd = "packages/server-koa/bin/atticd.js";
    atticadm = "packages/server-koa/bin/atticadm.js";
    attic = "packages/client/bin/attic.js";
  };
in
buildNpmPackage {
  pname = "attic-ts";
  inherit (serverPackage) version;
  inherit src nodejs npmDeps;
  npmConfigHook = importNpmLock.npmConfigHook;

  nativeBuildInputs = [
    makeWrapper
    pkg-config
    python3
  ];
  buildInputs = [ xz ];

  # Never use a prebuilt addon (prebuild-install would try the network; node-gyp-build would
  # load a binary linked for another system): compile sqlite3, zstd-napi and node-liblzma.
  env.npm_config_build_from_source = "true";

  # `npm run build` is `tsc -b`, which writes every workspace's dist/.
  npmBuildScript = "build";

  installPhase = ''
    runHook preInstall

    npm prune --omit=dev --no-save --ignore-scripts --no-audit --no-fund
    # npm's hidden lockfile names every tarball in the store: it would keep them all alive.
    rm -f node_modules/.package-lock.json
    find . -name '*.tsbuildinfo' -delete

    dest="$out/lib/attic-ts"
    mkdir -p "$dest" "$out/bin"
    cp -r package.json node_modules packages plugins "$dest/"
    # Links to the workspaces left out (test/, examples/) would dangle, which nixpkgs rejects.
    find "$dest" -xtype l -delete
    # Of each compiled addon keep only the .node file: node-gyp's objects, Makefiles and
    # config.gypi name the compiler and Node's sources, which would join the runtime closure.
    for b in "$dest"/node_modules/*/build "$dest"/node_modules/@*/*/build; do
      [ -d "$b/Release" ] || continue
      keep=$(mktemp -d)
      cp "$b"/Release/*.node "$keep"/
      rm -rf "$b"
      mkdir -p "$b/Release"
      cp "$keep"/*.node "$b/Release/"
      rm -rf "$keep"
    done

    ${lib.concatStrings (
      lib.mapAttrsToList (name: script: ''
        if [ -e "$dest/${script}" ]; then
          makeWrapper ${lib.getExe nodejs} "$out/bin/${name}" --add-flags "${nodeFlags.${name} or ""} $dest/${script}" ${wrapperEnv.${name} or ""}
        fi
      '') commands
    )}

    runHook postInstall
  '';

  # Fails the build if the server commands are missing or do not start.
  doInstallCheck = true;
  installCheckPhase = ''
    runHook preInstallCheck
    "$out/bin/atticd" --version
    "$out/bin/atticadm" --help > /dev/null
    runHook postInstallCheck
  '';

  meta = {
    description = rootPackage.description;
    license = lib.licenses.asl20;
    mainProgram = "atticd";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
