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
