export { createApp, createRequestHandler, atticMiddleware, type HostOptions, type AtticMiddlewareOptions } from "./app.ts";
export type { AtticState } from "./http/host-context.ts";
export { toHttpError, type HttpError } from "./middleware/error-handler.ts";
export {
  loadServerConfig,
  locateServerConfig,
  isFirstRun,
  parseServerToml,
  validateServerConfig,
  CONFIG_BASE64_VARIABLE,
  type LoadServerConfigOptions,
  type LoadedServerConfig,
  type ServerConfigLocation,
} from "./config/load-server-config.ts";
export { applyEnvOverrides, hasJwtSigning, DATABASE_URL_VARIABLE, JWT_SIGNING_VARIABLES } from "./config/env-overrides.ts";
export { parseListenAddress, type ListenAddress } from "./config/listen-address.ts";
export { runOobe, type OobeOptions, type OobeResult } from "./config/oobe.ts";
export { builtinPlugins, installedPlugins, loadExtraPlugins, mergePlugins, PLUGINS_VARIABLE } from "./plugins.ts";
export { startHttpHost, type HttpHost, type HttpHostOptions, type RequestHandler } from "./cli/http-host.ts";
export { runAtticd, ATTICD_MODES, type AtticdMode } from "./cli/atticd.ts";
export { runAtticadm } from "./cli/atticadm.ts";
