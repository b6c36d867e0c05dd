import { describe } from "vitest";
import { TEST_MATRIX } from "../../../test/helpers/engine.ts";
import { getMissingPathsCases } from "./get-missing-paths.cases.ts";

// The lookups in every database × storage combination (permission and request validation do
// not reach the database's paths and run once, in get-missing-paths.test.ts).
describe.each(TEST_MATRIX)("get-missing-paths (%s, %s)", (db, storage) => getMissingPathsCases(db, storage, { backendIndependent: false }));
