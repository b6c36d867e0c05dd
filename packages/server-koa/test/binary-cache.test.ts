import { describe } from "vitest";
import { binaryCacheCases } from "./binary-cache.cases.ts";

// SQLite and local storage, every case; binary-cache.services.test.ts runs the cases that
// depend on the backend in every database × storage combination.
describe("binary cache routes (sqlite, local)", () => binaryCacheCases("sqlite", "local", { backendIndependent: true }));
