import { describe } from "vitest";
import { TEST_MATRIX } from "../../../test/helpers/engine.ts";
import { cacheConfigCases } from "./cache-config.cases.ts";

// Every case that reads or writes cache rows, in every database × storage combination (the
// validation and endpoint cases run once, in cache-config.test.ts).
describe.each(TEST_MATRIX)("cache-config API (%s, %s)", (db, storage) => cacheConfigCases(db, storage, { backendIndependent: false }));
