import { describe } from "vitest";
import { middlewareCases } from "./middleware.cases.ts";

// SQLite and local storage, every case; middleware.services.test.ts runs the storage failures
// and the prefix mount in every database × storage combination.
describe("host middleware (sqlite, local)", () => middlewareCases("sqlite", "local", { backendIndependent: true }));
