import { describe } from "vitest";
import { TEST_MATRIX } from "../../../test/helpers/engine.ts";
import { uploadPathCases } from "./upload-path.cases.ts";

// Every case that stores or cleans up data, in every database × storage combination (parsing,
// limits and permissions run once, in upload-path.test.ts).
describe.each(TEST_MATRIX)("upload-path (%s, %s)", (db, storage) => uploadPathCases(db, storage, { backendIndependent: false }));
