import { describe } from "vitest";
import { cacheConfigCases } from "./cache-config.cases.ts";

// SQLite and local storage, every case; cache-config.services.test.ts runs the cases that touch
// the database in every database × storage combination.
describe("cache-config API (sqlite, local)", () => cacheConfigCases("sqlite", "local", { backendIndependent: true }));
