import { container as globalContainer, type DependencyContainer } from "tsyringe";

/**
 * A typed injection token: a unique symbol that carries the type it resolves to.
 * Use with `@inject(TOKEN)` on constructor parameters and `resolve(container, TOKEN)`.
 */
export type Token<T> = symbol & { readonly __type?: T };

export function createToken<T>(description: string): Token<T> {
  return Symbol(`attic-ts:${description}`) as Token<T>;
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
