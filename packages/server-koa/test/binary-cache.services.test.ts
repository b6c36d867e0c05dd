import { describe } from "vitest";
import { TEST_MATRIX } from "../../../test/helpers/engine.ts";
import { binaryCacheCases } from "./binary-cache.cases.ts";

// The narinfo and NAR cases in every database × storage combination (the routing, visibility
// and discovery cases do not read stored data and run once, in binary-cache.test.ts).
describe.each(TEST_MATRIX)("binary cache routes (%s, %s)", (db, storage) => binaryCacheCases(db, storage, { backendIndependent: false }));
