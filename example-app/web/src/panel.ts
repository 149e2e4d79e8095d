/** A card of the signed-in view: `load` (re)reads its data, `reset` forgets it on sign-out. */
export interface Panel {
  load(): Promise<void>;
  reset(): void;
}
