# NixOS VM test: Attic's integration test `basic` (integration-tests/basic) against attic-ts.
# A server runs services.atticd from this repository's module; a client drives it with the
# `attic` client (by default Rust Attic's, from nixpkgs: the point is being a drop-in) and
# stock Nix. Needs Nix with KVM:
#   nix build .#checks.x86_64-linux.basic            (SQLite, local storage)
#   nix build .#checks.x86_64-linux.basic-postgres   (PostgreSQL over the Unix socket)
{
  pkgs,
  atticModule ? ../atticd.nix,
  database ? "sqlite",
  clientPackage ? pkgs.attic-client,
}:

let
  inherit (pkgs) lib;

  # Test-only secret: 64 fixed bytes in base64, the shape `openssl rand 64 | base64 -w0` makes.
  hs256Secret = "lh53lIU7zvLU5xkF4XtBwgvDJK6skJRbaOSmbzt8Y1n/14zPRSO+p3Y9fOv4t5zDEexwY1teSYhQSyma9H6Yrg==";

  # A derivation that writes "hello"; the name makes each output path distinct.
  testDerivation = pkgs.writeText "test-derivation.nix" ''
    { name }:
    derivation {
      inherit name;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      args = [ "-c" "echo hello > $out" ];
      preferLocalBuild = true;
      allowSubstitutes = false;
    }
  '';

  databaseModules = {
    sqlite = { };
    postgres = {
      services.postgresql = {
        enable = true;
        ensureDatabases = [ "attic" ];
        ensureUsers = [
          { name = "atticd"; }
          # Test only: lets root run pg_dump below.
          {
            name = "root";
            ensureClauses.superuser = true;
          }
        ];
      };
      systemd.services.postgresql-setup.postStart = lib.mkAfter ''
        psql -tAc 'ALTER DATABASE "attic" OWNER TO "atticd"'
      '';
      services.atticd.settings.database.url = "postgresql:///attic?host=/run/postgresql";
    };
  };

  schemaDump = {
    sqlite = "${pkgs.sqlite}/bin/sqlite3 /var/lib/atticd/server.db '.schema'";
    postgres = "pg_dump --schema-only attic";
  };
in
pkgs.testers.runNixOSTest (
  { nodes, ... }:
  let
    atticd = nodes.server.services.atticd;
    # One-off atticd runs as the service's (dynamic) user, with its state and credentials, so
    # files it creates stay the service's and PostgreSQL's peer authentication admits it.
    atticdOnce = lib.concatStringsSep " " [
      "systemd-run --wait --collect --quiet --service-type=exec"
      "-p DynamicUser=yes -p User=${atticd.user} -p Group=${atticd.group} -p StateDirectory=atticd"
      "-p EnvironmentFile=/etc/atticd.env"
      "${atticd.package}/bin/atticd -f ${atticd.configFile}"
    ];
  in
  {
    name = "attic-ts-basic-${database}-local";

    nodes = {
      server =
        { config, ... }:
        {
          imports = [
            atticModule
            databaseModules.${database}
          ];

          # Test only: a real credentials file belongs outside the store, readable by root only.
          environment.etc."atticd.env" = {
            text = ''
              ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64="${hs256Secret}"
            '';
            mode = "0400";
          };

          services.atticd = {
            enable = true;
            # Attic's option name; credentialsFile is the same option.
            environmentFile = "/etc/atticd.env";
            settings = import ../example-settings.nix // {
              # The values of Attic's test: chunk every NAR.
              chunking = {
                nar-size-threshold = 1;
                min-size = 64 * 1024;
                avg-size = 128 * 1024;
                max-size = 256 * 1024;
              };
            };
          };

          environment.systemPackages = [ config.services.atticd.package ];
          networking.firewall.allowedTCPPorts = [ 8080 ];
          virtualisation.memorySize = 2048;
        };

      client = {
        environment.systemPackages = [
          clientPackage
          pkgs.curl
        ];
      };
    };

    testScript = ''
      import time

      start_all()

      server.wait_for_unit("atticd.service")
      client.wait_until_succeeds("curl -sL http://server:8080", timeout=60)

      with subtest("atticd-atticadm mints tokens with the service's credentials"):
          root_token = server.succeed(
              "atticd-atticadm make-token --sub e2e-root --validity '1 month'"
              " --pull '*' --push '*' --delete '*' --create-cache '*' --configure-cache '*'"
              " --configure-cache-retention '*' --destroy-cache '*' </dev/null"
          ).strip()
          readonly_token = server.succeed(
              "atticd-atticadm make-token --sub e2e-readonly --validity '1 month' --pull test </dev/null"
          ).strip()

      client.succeed(f"attic login --set-default root http://server:8080 {root_token}")
      client.succeed(f"attic login readonly http://server:8080 {readonly_token}")
      client.succeed("attic login anon http://server:8080")

      def build(name):
          return client.succeed(
              f"nix-build --no-out-link ${testDerivation} --argstr name {name}"
          ).strip()

      with subtest("create a cache"):
          client.succeed("attic cache create test")

      with subtest("push a path"):
          test_file = build("attic-ts-test")
          test_file_hash = test_file.removeprefix("/nix/store/")[:32]
          client.succeed(f"attic push test {test_file}")
          client.succeed(f"nix-store --delete {test_file}")
          client.fail(f"ls {test_file}")

      with subtest("pull it back with a read-only token"):
          client.succeed("attic use readonly:test")
          client.succeed(f"nix-store -r {test_file}")
          client.succeed(f"grep hello {test_file}")

      with subtest("push without permission fails"):
          client.fail(f"attic push readonly:test {test_file}")
          client.fail(f"attic push anon:test {test_file} 2>&1")

      with subtest("push a list of paths from stdin and pull them back"):
          paths = [build(f"attic-ts-seq{i}") for i in range(10)]
          client.succeed("printf '%s\\n' " + " ".join(paths) + " | attic push test --stdin 2>&1")
          for path in paths:
              client.succeed(f"nix-store --delete {path}")
          for path in paths:
              client.fail(f"ls {path}")
              client.succeed(f"nix-store -r {path}")
              client.succeed(f"grep hello {path}")

      with subtest("make the cache public"):
          client.fail("curl -sL --fail-with-body http://server:8080/test/nix-cache-info")
          client.fail(f"curl -sL --fail-with-body http://server:8080/test/{test_file_hash}.narinfo")
          client.succeed("attic cache configure test --public")
          client.succeed("curl -sL --fail-with-body http://server:8080/test/nix-cache-info")
          client.succeed(f"curl -sL --fail-with-body http://server:8080/test/{test_file_hash}.narinfo")

      with subtest("garbage collection removes expired objects and their chunks"):
          client.succeed("attic cache configure test --retention-period 1s")
          time.sleep(2)
          server.succeed("${atticdOnce} --mode garbage-collector-once")
          client.fail(f"curl -sL --fail-with-body http://server:8080/test/{test_file_hash}.narinfo")
          files = server.succeed("find /var/lib/atticd/storage -type f ! -name VERSION")
          assert files.strip() == "", "files remain after GC: " + files

      with subtest("push with the upload info in the body (preamble)"):
          test2_file = build("attic-ts-test2")
          client.succeed(f"attic push --force-preamble test {test2_file}")
          client.succeed(f"nix-store --delete {test2_file}")
          client.succeed(f"nix-store -r {test2_file}")

      with subtest("destroy the cache"):
          client.succeed("attic cache info test")
          client.succeed("attic cache destroy --no-confirm test")
          client.fail("attic cache info test")
          client.fail("curl -sL --fail-with-body http://server:8080/test/nix-cache-info")

      with subtest("the unit is hardened"):
          props = server.succeed("systemctl show atticd.service -p ProtectSystem -p DynamicUser -p NoNewPrivileges")
          assert "ProtectSystem=strict" in props, props
          assert "DynamicUser=yes" in props, props

      # The schema, for comparison with Attic's (it is in the test's output).
      from pathlib import Path
      import os
      schema = server.succeed("${schemaDump.${database}}")
      (Path(os.environ.get("out", os.getcwd())) / "schema.sql").write_text(schema)
    '';
  }
)
