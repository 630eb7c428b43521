// Hot / Warm cutoff sliders with numeric inputs kept in sync, inline validation, Apply, and the list of
// controls sent to the trainer with their state (pending until the ack, then the step it took effect).
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import { cutoffOrderProblem } from "../protocol/contract";
import { DEFAULT_CUTOFFS, type Cutoffs } from "../protocol/protocol.generated";
import type { ControlStatus, WebviewToHost } from "../common/messages";

type Which = "hot" | "warm";

/** Returns an error message for a cutoff pair the trainer would refuse, or null when it is valid. */
export function cutoffError(hot: number, warm: number): string | null {
  if (!Number.isFinite(hot) || !Number.isFinite(warm)) return "Enter numbers between 0 and 1.";
  if (hot < 0 || hot > 1 || warm < 0 || warm > 1) return "Cutoffs must be between 0 and 1.";
  if (cutoffOrderProblem(hot, warm)) return "Hot must not exceed Warm (Hot tensors are a subset of Hot+Warm).";
  return null;
}

function describeControl(c: ControlStatus): string {
  if (c.state === "pending") return `${c.label} — pending`;
  if (c.state === "acked") return `${c.label} — applied at step ${c.effectiveStep ?? "?"}`;
  return `${c.label} — rejected: ${c.reason ?? "no reason given"}`;
}

export class CutoffControls {
  readonly element = document.createElement("section");
  private readonly sliders = {} as Record<Which, HTMLInputElement>;
  private readonly fields = {} as Record<Which, HTMLElement & { value: string }>;
  private readonly message = document.createElement("div");
  private readonly apply: HTMLElement;
  private readonly controlList = document.createElement("ul");
  private readonly historyFilter = document.createElement("div");
  private controls: ControlStatus[] = [];
  private showOnlyMine = false;
  /** True once the user moved a control: incoming cutoffs then no longer overwrite what they are editing. */
  private edited = false;
  private live = false;

  constructor(private readonly send: (m: WebviewToHost) => void) {
    this.element.className = "cutoff-controls";
    const heading = document.createElement("h3");
    heading.textContent = "Cutoffs (share of parameter elements)";
    this.element.append(heading, this.row("hot", "Hot"), this.row("warm", "Warm"));
    this.message.className = "validation";
    this.message.setAttribute("role", "alert");
    this.message.dataset.testid = "cutoff-error";
    this.apply = document.createElement("vscode-button");
    this.apply.textContent = "Apply";
    this.apply.dataset.testid = "apply-cutoffs";
    this.apply.addEventListener("click", () => this.submit());
    this.controlList.className = "control-list";
    this.controlList.dataset.testid = "control-list";
    this.controlList.setAttribute("aria-live", "polite");
    this.controlList.tabIndex = 0; // scrollable by keyboard
    this.controlList.setAttribute("aria-label", "Controls sent to the trainer, newest first");
    this.historyFilter.className = "history-filter";
    this.historyFilter.setAttribute("role", "radiogroup");
    this.historyFilter.setAttribute("aria-label", "Which controls to list");
    for (const [value, text] of [["all", "All"], ["mine", "Mine"]] as const) {
      const label = document.createElement("label");
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "control-history";
      radio.value = value;
      radio.checked = value === "all";
      radio.dataset.testid = `history-${value}`;
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        this.showOnlyMine = value === "mine";
        this.renderControls();
      });
      label.append(radio, ` ${text}`);
      this.historyFilter.append(label);
    }
    const historyTitle = document.createElement("h3");
    historyTitle.textContent = "Control history";
    historyTitle.append(this.historyFilter);
    this.element.append(this.message, this.apply, historyTitle, this.controlList);
    this.setCutoffs(DEFAULT_CUTOFFS);
    this.validate();
  }

  private row(which: Which, label: string): HTMLElement {
    const row = document.createElement("div");
    row.className = "cutoff-row";
    const id = `cutoff-${which}`;
    const name = document.createElement("label");
    name.textContent = label;
    name.htmlFor = id;
    const slider = document.createElement("input");
    slider.type = "range";
    slider.id = id;
    slider.min = "0";
    slider.max = "1";
    slider.step = "0.01";
    const field = document.createElement("vscode-textfield") as HTMLElement & { value: string };
    field.setAttribute("type", "number");
    field.setAttribute("min", "0");
    field.setAttribute("max", "1");
    field.setAttribute("step", "0.01");
    field.setAttribute("aria-label", `${label} cutoff`);
    field.className = "cutoff-number";
    slider.addEventListener("input", () => {
      this.edited = true;
      field.value = Number(slider.value).toFixed(2);
      this.validate();
    });
    field.addEventListener("input", () => {
      this.edited = true;
      const x = Number(field.value);
      if (field.value.trim() !== "" && Number.isFinite(x)) slider.value = String(x);
      this.validate();
    });
    field.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") this.submit();
    });
    this.sliders[which] = slider;
    this.fields[which] = field;
    row.append(name, slider, field);
    return row;
  }

  /** The values the user sees, read from the numeric fields (the sliders follow them). */
  values(): { hot: number; warm: number } {
    const read = (w: Which) => (this.fields[w].value.trim() === "" ? NaN : Number(this.fields[w].value));
    return { hot: read("hot"), warm: read("warm") };
  }

  private validate(): boolean {
    const { hot, warm } = this.values();
    const error = cutoffError(hot, warm);
    this.message.textContent = error ?? (this.live ? "" : "Cutoffs can be changed while a run is live.");
    this.message.dataset.invalid = String(error !== null);
    this.apply.toggleAttribute("disabled", error !== null || !this.live);
    return error === null;
  }

  private submit(): void {
    if (!this.validate() || !this.live) return;
    const { hot, warm } = this.values();
    this.edited = false;
    this.send({ kind: "setCutoffs", hot, warm });
  }

  setLive(live: boolean): void {
    this.live = live;
    this.validate();
  }

  setCutoffs(cutoffs: Cutoffs | null): void {
    if (!cutoffs || this.edited) return;
    for (const w of ["hot", "warm"] as const) {
      this.sliders[w].value = String(cutoffs[w]);
      this.fields[w].value = cutoffs[w].toFixed(2);
    }
    this.validate();
  }

  /** Every control the host keeps (newest first, scrollable), or only those sent from this window. */
  setControls(controls: ControlStatus[]): void {
    this.controls = controls;
    this.renderControls();
  }

  private renderControls(): void {
    const shown = this.showOnlyMine ? this.controls.filter((c) => c.mine) : this.controls;
    const items = shown.slice().reverse().map((c) => {
      const li = document.createElement("li");
      li.dataset.state = c.state;
      li.dataset.mine = String(c.mine === true);
      li.textContent = describeControl(c) + (c.mine === false ? " (not from this window)" : "");
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = this.showOnlyMine && this.controls.length ? "None sent from this window." : "No controls sent yet.";
      items.push(li);
    }
    this.controlList.replaceChildren(...items);
  }
}
