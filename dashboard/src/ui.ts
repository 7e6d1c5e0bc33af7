/** DOM helpers: elements by id (failing loudly when the page and the code disagree), panel states, figures. */

export type PanelState = "idle" | "busy" | "done" | "error";

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

export function setState(panel: string, state: PanelState): void {
  byId(`panel-${panel}`).dataset["state"] = state;
}

/** Writes a figure as plain text (tests parse these). */
export function setText(id: string, value: string | number): void {
  byId(id).textContent = String(value);
}

/** Shows (or, with undefined, hides) a panel's error line. */
export function showError(panel: string, message: string | undefined): void {
  const e = byId(`${panel}-error`);
  e.hidden = message === undefined;
  e.textContent = message ?? "";
}

/** `x` with `digits` decimals, no thousands separator. */
export function fixed(x: number, digits: number): string {
  return x.toFixed(digits);
}

/** The message of anything thrown, with a NatsBridgeError's code and causes. */
export function describe(e: unknown): string {
  if (e instanceof Error) {
    const report = (e as { report?: () => string }).report;
    return typeof report === "function" ? report.call(e) : `${e.name}: ${e.message}`;
  }
  return String(e);
}
