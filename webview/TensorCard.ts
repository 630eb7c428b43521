// The tier map's DOM overlays: the hover card (what a tensor is and how its tier moved) and the pin menu.
// Everything shown comes from the trainer, so it is written with textContent only.
import "@vscode-elements/elements/dist/vscode-button/index.js";
import type { TensorInfo, Tier } from "../protocol/protocol.generated";
import type { TensorState, TierHistory, WebviewToHost } from "../common/messages";
import { formatCount, formatNumber } from "./format";
import { visibleText } from "../common/visibleText";

function line(parent: HTMLElement, label: string, value: string): void {
  const row = document.createElement("div");
  const l = document.createElement("span");
  l.className = "card-label";
  l.textContent = label;
  const v = document.createElement("span");
  v.textContent = value;
  row.append(l, v);
  parent.append(row);
}

export function describeHistory(history: TierHistory | undefined, max = 6): string {
  if (!history || history.length === 0) return "—";
  const shown = history.slice(-max).map(([step, tier]) => `${tier} @${step}`);
  return (history.length > max ? "… → " : "") + shown.join(" → ");
}

export class TensorCard {
  readonly element = document.createElement("div");

  constructor(host: HTMLElement) {
    this.element.className = "tensor-card";
    this.element.setAttribute("role", "tooltip");
    this.element.hidden = true;
    host.append(this.element);
  }

  show(tensor: TensorInfo, state: TensorState | undefined, history: TierHistory | undefined, x: number, y: number): void {
    const card = this.element;
    card.replaceChildren();
    const title = document.createElement("div");
    title.className = "card-title";
    title.textContent = visibleText(tensor.name);
    card.append(title);
    line(card, "shape", tensor.shape.length ? tensor.shape.join(" × ") : "scalar");
    line(card, "elements", formatCount(tensor.numel));
    const pin = state?.pinned ? (state.pinSource === "user" ? " (pinned by you)" : " (pinned by policy)") : "";
    line(card, "tier", state ? `${state.tier}${pin}${state.changed ? " — just changed" : ""}` : "—");
    line(card, "score", state ? formatNumber(state.score) : "—");
    line(card, "history", describeHistory(history));
    card.hidden = false;
    this.place(x, y);
  }

  hide(): void {
    this.element.hidden = true;
  }

  /** Keeps the card inside its positioned parent, to the lower right of the pointer when there is room. */
  private place(x: number, y: number): void {
    const parent = this.element.offsetParent as HTMLElement | null;
    const maxX = (parent?.clientWidth ?? window.innerWidth) - this.element.offsetWidth - 4;
    this.element.style.left = `${Math.max(0, Math.min(x + 12, maxX))}px`;
    this.element.style.top = `${y + 12}px`;
  }
}

const PIN_CHOICES: Array<{ label: string; tier: Tier | null }> = [
  { label: "Pin Hot", tier: "hot" },
  { label: "Pin Warm", tier: "warm" },
  { label: "Pin Cold", tier: "cold" },
  { label: "Unpin", tier: null },
];

/** A small menu of buttons; Escape or a click elsewhere closes it and gives focus back to the map. */
export class PinMenu {
  readonly element = document.createElement("div");
  private readonly title = document.createElement("div");
  private readonly buttons: HTMLElement[] = [];
  private tensorName: string | null = null;

  constructor(host: HTMLElement, private readonly send: (m: WebviewToHost) => void, private readonly returnFocus: () => void) {
    this.element.className = "pin-menu";
    this.element.setAttribute("role", "menu");
    this.element.hidden = true;
    this.title.className = "card-title";
    this.element.append(this.title);
    for (const choice of PIN_CHOICES) {
      const b = document.createElement("vscode-button");
      b.setAttribute("role", "menuitem");
      b.dataset.action = choice.tier ?? "unpin";
      if (choice.tier === null) b.setAttribute("secondary", "");
      b.textContent = choice.label;
      b.addEventListener("click", () => this.choose(choice.tier));
      this.buttons.push(b);
      this.element.append(b);
    }
    this.element.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.close();
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const i = this.buttons.indexOf(document.activeElement as HTMLElement);
        const next = (i + (e.key === "ArrowDown" ? 1 : this.buttons.length - 1)) % this.buttons.length;
        this.buttons[next].focus();
      }
    });
    document.addEventListener("pointerdown", (e) => {
      if (!this.element.hidden && !this.element.contains(e.target as Node)) this.close(false);
    });
    host.append(this.element);
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  open(tensor: TensorInfo, pinned: boolean, x: number, y: number, enabled: boolean): void {
    this.tensorName = tensor.name;
    this.title.textContent = enabled ? visibleText(tensor.name) : `${visibleText(tensor.name)} (run not live)`;
    for (const b of this.buttons) {
      const disabled = !enabled || (b.dataset.action === "unpin" && !pinned);
      b.toggleAttribute("disabled", disabled);
    }
    this.element.hidden = false;
    this.element.style.left = `${Math.max(0, x)}px`;
    this.element.style.top = `${Math.max(0, y)}px`;
    this.buttons.find((b) => !b.hasAttribute("disabled"))?.focus();
  }

  close(refocus = true): void {
    if (this.element.hidden) return;
    this.element.hidden = true;
    this.tensorName = null;
    if (refocus) this.returnFocus();
  }

  private choose(tier: Tier | null): void {
    const name = this.tensorName;
    if (name === null) return;
    this.send(tier === null ? { kind: "unpin", name } : { kind: "pin", name, tier });
    this.close();
  }
}
