// Conformance suites for plugin authors: each registers Vitest cases for one implementation.
export * from "./fixtures.ts";
export * from "./chunker-conformance.ts";
export * from "./blob-store-conformance.ts";
export * from "./database-conformance.ts";
