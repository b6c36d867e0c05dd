{
  description = "attic-ts: a TypeScript drop-in replacement for Attic, the multi-tenant Nix binary cache";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      # NixOS VM tests need a Linux builder with KVM.
      linuxSystems = lib.filter (lib.hasSuffix "-linux") systems;
      forSystems = names: f: lib.genAttrs names (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # `pkgs.attic-ts`; the module's `package` option defaults to it when the overlay is applied.
      overlays.default = final: _prev: { attic-ts = final.callPackage ./nixos/package.nix { }; };

      packages = forSystems systems (pkgs: rec {
        attic-ts = pkgs.callPackage ./nixos/package.nix { };
        default = attic-ts;
      });

      nixosModules.atticd = ./nixos/atticd.nix;
      nixosModules.default = self.nixosModules.atticd;

      checks = forSystems linuxSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.attic-ts;
        basic = import ./nixos/tests/basic.nix { inherit pkgs; };
        basic-postgres = import ./nixos/tests/basic.nix {
          inherit pkgs;
          database = "postgres";
        };
      });
    };
}
