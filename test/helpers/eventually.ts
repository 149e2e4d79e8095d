/**
 * Polls `check` until it returns true, failing after `ms`. For conditions that
 * become true on their own (another instance's poll, a lock wait), never as a
 * timing assertion.
 */
export async function eventually(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
