import { describe } from "vitest";
import { TEST_MATRIX } from "../../../test/helpers/engine.ts";
import { middlewareCases } from "./middleware.cases.ts";

// Storage failures and the prefix mount in every database × storage combination (routing, Host
// checks and the error mapping run once, in middleware.test.ts).
describe.each(TEST_MATRIX)("host middleware (%s, %s)", (db, storage) => middlewareCases(db, storage, { backendIndependent: false }));
