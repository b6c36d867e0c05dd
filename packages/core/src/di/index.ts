// The only module that imports tsyringe. reflect-metadata must be loaded before tsyringe.
import "reflect-metadata";

export { injectable, inject } from "tsyringe";
export type { DependencyContainer } from "tsyringe";
export { createToken, resolve, createRootContainer } from "./token.ts";
export type { Token } from "./token.ts";
