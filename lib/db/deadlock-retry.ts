/** InnoDB deadlock (1213) and lock wait timeout (1205): the transaction was rolled back; run it again. */
export function isLockConflict(err: unknown): boolean {
  const errno = (err as { errno?: number }).errno;
  return errno === 1213 || errno === 1205;
}

/**
 * Runs fn, again after a short random pause when InnoDB chose it as a deadlock victim (idempotent
 * work only: INSERT IGNORE of dictionary rows and the like). Other errors, and the last conflict,
 * are thrown.
 */
export async function withLockRetry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isLockConflict(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * i));
    }
  }
}

/**
 * Runs tasks one at a time per key (in this process): first-sight work such as registering new
 * metric names of one account, where concurrent requests would otherwise insert the same unique keys
 * at once and deadlock each other.
 */
export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
