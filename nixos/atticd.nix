# NixOS module for attic-ts's atticd: a drop-in replacement for Attic's `services.atticd`
# (nixos/atticd.nix in zhaofengli/attic). Import this file directly (see docs/nixos.md) or use
# the flake output `nixosModules.atticd`.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    literalExpression
    mkDefault
    mkEnableOption
    mkIf
    mkOption
    optionals
    types
    ;

  cfg = config.services.atticd;
  helpers = import ./lib.nix;
  format = pkgs.formats.toml { };

  # Fails the build when atticd rejects the config, naming the key. check-config opens no
  # database and no storage; it only needs some signing key and a database URL, hence the
  # throwaway values (the real ones come from the credentials file at run time).
  checkedConfigFile =
    pkgs.runCommand "checked-attic-server.toml"
      {
        configFile = cfg.configFile;
        nativeBuildInputs = [ cfg.package ];
      }
      ''
        cat "$configFile"
        export HOME="$TMPDIR"
        export ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64="dGVzdCBzZWNyZXQ="
        export ATTIC_SERVER_DATABASE_URL="sqlite://:memory:"
        atticd --mode check-config -f "$configFile"
        cp "$configFile" "$out"
      '';

  serviceConfigFile = if cfg.checkConfig then checkedConfigFile else cfg.configFile;

  atticadmShim = pkgs.writeShellScript "atticadm" (
    helpers.substitutePlaceholders (builtins.readFile ./atticadm-shim.sh) {
      atticadm = "${cfg.package}/bin/atticadm";
      configFile = serviceConfigFile;
    }
  );

  atticadmWrapper = pkgs.writeShellScriptBin "atticd-atticadm" (
    helpers.substitutePlaceholders (builtins.readFile ./atticadm-wrapper.sh) {
      systemdRun = "${config.systemd.package}/bin/systemd-run";
      environmentFile = toString cfg.credentialsFile;
      inherit (cfg) user group;
      shim = atticadmShim;
    }
  );

  hasLocalPostgresDB =
    config.services.postgresql.enable && helpers.isLocalPostgresUrl (cfg.settings.database.url or "");

  # A size in bytes, as Attic's chunking options are (usize).
  byteSize =
    description:
    mkOption {
      type = types.ints.unsigned;
      inherit description;
    };
in
{
  imports = [
    # Attic renamed credentialsFile to environmentFile; both names set the same option here,
    # without a deprecation warning, so configurations written for either version work.
    (lib.mkAliasOptionModule [ "services" "atticd" "environmentFile" ] [ "services" "atticd" "credentialsFile" ])
  ];

  # nixpkgs ships its own module for Rust Attic under the same option names.
  disabledModules = [ "services/networking/atticd.nix" ];

  options.services.atticd = {
    enable = mkEnableOption "atticd, the Nix binary cache server (attic-ts)";

    package = mkOption {
      type = types.package;
      default = pkgs.attic-ts or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.attic-ts or (pkgs.callPackage ./package.nix { })";
      description = "The attic-ts package that provides `atticd` and `atticadm`.";
    };

    credentialsFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/etc/atticd.env";
      description = ''
        An environment file (systemd's EnvironmentFile=) with the JWT signing key, readable by
        root only; systemd reads it before dropping privileges. Usually one line:

        - `ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64="..."`: a shared secret, from
          `openssl rand 64 | base64 -w0`, or
        - `ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64="..."`: an RSA key, from
          `openssl genrsa -traditional 4096 | base64 -w0`.

        Other variables (`ATTIC_SERVER_DATABASE_URL`, `AWS_ACCESS_KEY_ID`, ...) may go here too.
        Also settable as `services.atticd.environmentFile`, Attic's newer name.
      '';
    };

    user = mkOption {
      type = types.str;
      default = "atticd";
      description = "The user atticd runs as (a systemd dynamic user).";
    };

    group = mkOption {
      type = types.str;
      default = "atticd";
      description = "The group atticd runs as.";
    };

    settings = mkOption {
      description = ''
        atticd's `server.toml` as Nix values (every key of Attic's server config is accepted).
        `database.url` defaults to SQLite in /var/lib/atticd and `storage` to local storage in
        /var/lib/atticd/storage; setting `storage` replaces that table as a whole.
      '';
      default = { };
      type = types.submodule {
        freeformType = format.type;
        options = {
          listen = mkOption {
            type = types.str;
            default = "[::]:8080";
            description = "The socket address to listen on.";
          };
          # Required, as in Attic: changing them later hurts deduplication, so no silent default.
          chunking = mkOption {
            description = "How NARs are cut into chunks (all sizes in bytes).";
            type = types.submodule {
              freeformType = format.type;
              options = {
                nar-size-threshold = byteSize "The minimum NAR size to chunk; 0 disables chunking, 1 chunks every NAR.";
                min-size = byteSize "The preferred minimum chunk size.";
                avg-size = byteSize "The preferred average chunk size.";
                max-size = byteSize "The preferred maximum chunk size.";
              };
            };
          };
        };
      };
    };

    configFile = mkOption {
      type = types.path;
      default = format.generate "server.toml" cfg.settings;
      defaultText = "generated from `services.atticd.settings`";
      description = "The server.toml to use; by default generated from `settings`.";
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether to run `atticd --mode check-config` on the config at build time. Turn it off
        only for configs the build cannot check, e.g. plugins loaded through ATTIC_TS_PLUGINS.
      '';
    };

    mode = mkOption {
      type = types.enum [
        "monolithic"
        "api-server"
        "garbage-collector"
      ];
      default = "monolithic";
      description = ''
        `monolithic` runs everything (one-node deployments); `api-server` only the API (any
        number of replicas; it does not migrate the database); `garbage-collector` only the
        periodic garbage collection.
      '';
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.credentialsFile != null;
        message = ''
          services.atticd.credentialsFile is not set.

          Run `openssl rand 64 | base64 -w0` and create a file, readable by root only, with:

          ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64="output from the command"

          Then set services.atticd.credentialsFile to the quoted absolute path of that file.
        '';
      }
      {
        # A path literal (/etc/atticd.env, ./atticd.env) would be copied into the store.
        assertion = !(builtins.isPath cfg.credentialsFile) && !lib.isStorePath (toString cfg.credentialsFile);
        message = ''
          services.atticd.credentialsFile is a Nix path or points into the Nix store, which is
          world-readable. Use a quoted absolute path ("/etc/atticd.env"), not a path literal.
        '';
      }
    ];

    services.atticd.settings = {
      database.url = mkDefault helpers.defaultDatabaseUrl;
      # `storage` is tagged by `type`: a user's table must replace this one, not merge into it.
      storage = mkDefault helpers.defaultStorage;
    };

    systemd.services.atticd = {
      description = "atticd, the Nix binary cache server (attic-ts)";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ] ++ optionals hasLocalPostgresDB [ "postgresql.service" ];
      requires = optionals hasLocalPostgresDB [ "postgresql.service" ];
      wants = [ "network-online.target" ];

      serviceConfig = {
        ExecStart = "${cfg.package}/bin/atticd -f ${serviceConfigFile} --mode ${cfg.mode}";
        EnvironmentFile = cfg.credentialsFile;
        StateDirectory = "atticd"; # SQLite and local storage
        DynamicUser = true;
        User = cfg.user;
        Group = cfg.group;
        Restart = "on-failure";
        RestartSec = 10;

        # Attic's hardening, minus MemoryDenyWriteExecute: V8's JIT compiler writes machine code
        # and then makes it executable, which that setting forbids, so Node would crash at
        # startup (or would have to run with --jitless, several times slower).
        CapabilityBoundingSet = [ "" ];
        DeviceAllow = "";
        DevicePolicy = "closed";
        LockPersonality = true;
        NoNewPrivileges = true;
        PrivateDevices = true;
        PrivateTmp = true;
        PrivateUsers = true;
        ProcSubset = "pid";
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHome = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectProc = "invisible";
        ProtectSystem = "strict";
        ReadWritePaths = helpers.extraWritablePaths cfg.settings;
        RemoveIPC = true;
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          "~@resources"
          "~@privileged"
        ];
        UMask = "0077";
      };
    };

    environment.systemPackages = [ atticadmWrapper ];
  };
}
