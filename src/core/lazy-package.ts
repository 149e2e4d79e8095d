/**
 * A package loaded on first use rather than at start: a process that never needs it does
 * not keep it, and every module kept in the heap adds to the cost of each garbage
 * collection. A failed load is not remembered (the next call tries again), and its error
 * names the feature and the packages, as the 500 a route answers then is logged with it.
 * Callers load before anything single-use is spent, so a failed load spends nothing.
 */
export function lazyPackage<T>(feature: string, packages: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw new Error(`gatehouse: ${feature} needs ${packages}, which failed to load: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    return loading;
  };
}
