// Undo steps for a benchmark run: run once, newest first, on success, on failure and on SIGINT/SIGTERM.
type Step = { readonly name: string; readonly run: () => void | Promise<void> };

const steps: Step[] = [];
let running: Promise<void> | undefined;
let signalled = false;

/** Whether a signal started the cleanup: failures that follow from it (a killed dnsperf) are no news. */
export function interrupted(): boolean {
  return signalled;
}

/** Registers an undo step; the returned function removes it (for resources already released in order). */
export function onCleanup(name: string, run: () => void | Promise<void>): () => void {
  const step = { name, run };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

/** Runs every registered step once; a failing step is reported and the others still run. */
export function cleanup(): Promise<void> {
  running ??= (async () => {
    while (steps.length > 0) {
      const step = steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        console.error(`cleanup: ${step.name}: ${(err as Error).message}`);
      }
    }
  })();
  return running;
}

/** A signal cleans up and exits 128 + signal number, as a shell would report it. */
export function cleanupOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      signalled = true;
      console.error(`\n${signal}: cleaning up`);
      // A second signal while cleaning up must not leave things half done: ignore it.
      process.on(signal, () => {});
      void cleanup().finally(() => process.exit(code));
    });
  }
}
