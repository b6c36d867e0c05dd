import type { Middleware, ParameterizedContext } from "koa";

/**
 * Runs middleware in order, each reaching the next through its `next` (what koa-compose does;
 * written out to avoid depending on Koa's internals). The last `next` resolves immediately.
 */
export function compose<S>(chain: ReadonlyArray<Middleware<S>>): (ctx: ParameterizedContext<S>) => Promise<void> {
  return (ctx) => {
    const dispatch = async (i: number): Promise<void> => {
      const middleware = chain[i];
      if (middleware) await middleware(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}
