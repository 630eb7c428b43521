// A set of callbacks for one kind of run notification (events, noise, exit). A listener that throws must not
// stop the others, nor the reading of the trainer's output: its error is logged and the rest still run.
export class Listeners<T extends unknown[]> {
  private readonly callbacks = new Set<(...args: T) => void>();

  /** Registers `cb`; the returned function unregisters it. */
  add(cb: (...args: T) => void): () => void {
    this.callbacks.add(cb);
    return () => this.callbacks.delete(cb);
  }

  emit(...args: T): void {
    for (const cb of [...this.callbacks]) {
      try {
        cb(...args);
      } catch (e) {
        console.error("[hima] a run listener failed:", e);
      }
    }
  }

  clear(): void {
    this.callbacks.clear();
  }
}
