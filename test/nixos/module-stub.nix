# Evaluates nixos/atticd.nix without nixpkgs: a stub `lib` whose option functions return their
# arguments, and a stub `pkgs` whose builders return fake store paths. There is no module
# system here, so `cfg` must hold every option's final value; what comes out is the module's
# declarations and its `config` for that `cfg` (see test/nixos/module-stub.test.ts).
{
  cfg,
  postgresqlEnable ? false,
}:
let
  stubLib = {
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
    mkEnableOption = name: { _type = "option"; type = "bool"; default = false; description = "Whether to enable ${name}."; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkOption = attrs: attrs // { _type = "option"; };
    optionals = condition: list: if condition then list else [ ];
    # nixpkgs: a direct child of the store directory.
    isStorePath = p: builtins.match "/nix/store/[^/]+" (toString p) != null;
    mkAliasOptionModule = from: to: { _type = "aliasOptionModule"; inherit from to; };
    types = {
      nullOr = t: "nullOr ${t}";
      path = "path";
      str = "str";
      bool = "bool";
      package = "package";
      enum = values: { enum = values; };
      submodule = module: { submodule = module; };
      ints.unsigned = "ints.unsigned";
    };
  };

  stubPkgs = {
    formats.toml = _: {
      type = "toml";
      generate = name: value: { outPath = "/nix/store/stub-${name}"; inherit value; };
    };
    runCommand = name: env: script: { outPath = "/nix/store/stub-${name}"; inherit env script; };
    writeShellScript = name: text: { outPath = "/nix/store/stub-${name}"; inherit text; };
    writeShellScriptBin = name: text: { outPath = "/nix/store/stub-bin-${name}"; inherit text; };
  };

  module = import ../../nixos/atticd.nix {
    lib = stubLib;
    pkgs = stubPkgs;
    config = {
      services.atticd = cfg;
      services.postgresql.enable = postgresqlEnable;
      systemd.package = { outPath = "/stub/systemd"; };
    };
  };

  options = module.options.services.atticd;
  settingsOptions = options.settings.type.submodule.options;
  content = module.config.content;
  wrapper = builtins.head content.environment.systemPackages;
  checked = (builtins.match ".* -f ([^ ]+) .*" content.systemd.services.atticd.serviceConfig.ExecStart);
in
{
  inherit (module) imports disabledModules;
  optionNames = builtins.attrNames options;
  modeValues = options.mode.type.enum;
  defaults = {
    inherit (options.user) default;
    group = options.group.default;
    mode = options.mode.default;
    credentialsFile = options.credentialsFile.default;
    checkConfig = options.checkConfig.default;
    listen = settingsOptions.listen.default;
  };
  credentialsFileType = options.credentialsFile.type;
  chunkingOptions = builtins.mapAttrs (_: o: o.type) settingsOptions.chunking.type.submodule.options;
  enabledWhen = module.config.condition;
  assertions = map (a: a.assertion) content.assertions;
  settingsDefaults = content.services.atticd.settings;
  unit = content.systemd.services.atticd;
  wrapperText = wrapper.text;
  checkedConfigPath = if checked == null then null else builtins.head checked;
}
