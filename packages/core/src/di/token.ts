import { container as globalContainer, type DependencyContainer } from "tsyringe";

/**
 * A typed injection token: a symbol that carries the type it resolves to.
 * Use with `@inject(TOKEN)` on constructor parameters and `resolve(container, TOKEN)`.
 */
export type Token<T> = symbol & { readonly __type?: T };

/**
 * The token named `description`. Registered symbols (`Symbol.for`), so a plugin that ends up with
 * its own copy of `@attic-ts/core` (a second install in its node_modules) still registers under
 * the engine's tokens; the names are namespaced, and each must be used for one type only.
 */
export function createToken<T>(description: string): Token<T> {
  return Symbol.for(`attic-ts:${description}`) as Token<T>;
}

export function resolve<T>(container: DependencyContainer, token: Token<T>): T {
  return container.resolve<T>(token);
}

/**
 * A fresh container for one engine or host instance. It is a child of tsyringe's global
 * container only because tsyringe offers no other constructor; nothing is ever registered
 * on the global one, so instances never see each other's bindings.
 */
export function createRootContainer(): DependencyContainer {
  return globalContainer.createChildContainer();
}
