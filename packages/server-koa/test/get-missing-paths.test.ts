import { describe } from "vitest";
import { getMissingPathsCases } from "./get-missing-paths.cases.ts";

// SQLite and local storage, every case; get-missing-paths.services.test.ts runs the lookups in
// every database × storage combination.
describe("get-missing-paths (sqlite, local)", () => getMissingPathsCases("sqlite", "local", { backendIndependent: true }));
