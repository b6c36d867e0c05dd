import { describe } from "vitest";
import { uploadPathCases } from "./upload-path.cases.ts";

// SQLite and local storage, every case; upload-path.services.test.ts runs the cases that store
// or clean up data in every database × storage combination.
describe("upload-path (sqlite, local)", () => uploadPathCases("sqlite", "local", { backendIndependent: true }));
