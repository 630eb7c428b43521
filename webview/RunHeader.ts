// The top of the panel: which run this is and its state, the run buttons (Stop / Pause / Resume), the
// per-rank line of a multi-process run, the crash report, host notices, and the empty state with "Start Training" / "Open Run" when there is no run.
import "@vscode-elements/elements/dist/vscode-button/index.js";
import type { RankMemoryView, RunSummaryView, WebviewCommand, WebviewToHost } from "../common/messages";
import { rankParts } from "../common/rankMemory";
import { formatNumber } from "./format";

function button(label: string, command: WebviewCommand, send: (m: WebviewToHost) => void, secondary = false): HTMLElement {
  const b = document.createElement("vscode-button");
  b.textContent = label;
  b.dataset.command = command;
  if (secondary) b.setAttribute("secondary", "");
  b.addEventListener("click", () => {
    if (!b.hasAttribute("disabled")) send({ kind: "command", command });
  });
  return b;
}

export class RunHeader {
  readonly element = document.createElement("header");
  readonly empty = document.createElement("section");
  private readonly title = document.createElement("div");
  private readonly details = document.createElement("div");
  private readonly ranks = document.createElement("div");
  private readonly buttons = document.createElement("div");
  private readonly stop: HTMLElement;
  private readonly pause: HTMLElement;
  private readonly resume: HTMLElement;
  private readonly errorBox = document.createElement("pre");
  private readonly notice = document.createElement("div");

  constructor(send: (m: WebviewToHost) => void) {
    this.element.className = "run-header";
    this.title.className = "run-title";
    this.details.className = "run-details muted";
    this.details.dataset.testid = "run-details";
    this.ranks.className = "run-ranks";
    this.ranks.dataset.testid = "run-ranks";
    this.ranks.hidden = true;
    this.buttons.className = "button-row";
    this.stop = button("Stop", "stop", send);
    this.pause = button("Pause", "pause", send, true);
    this.resume = button("Resume", "resume", send, true);
    this.buttons.append(this.stop, this.pause, this.resume);
    this.errorBox.className = "error-tail";
    this.errorBox.hidden = true;
    this.notice.className = "notice";
    this.notice.setAttribute("role", "status");
    this.notice.hidden = true;
    this.element.append(this.title, this.details, this.ranks, this.buttons, this.errorBox);

    this.empty.className = "empty-state";
    this.empty.dataset.testid = "empty-state";
    const text = document.createElement("p");
    text.textContent = "No run yet. Start training a model, or open a past run to replay it.";
    const row = document.createElement("div");
    row.className = "button-row";
    row.append(button("Start Training", "startTraining", send), button("Open Run", "openRun", send, true));
    this.empty.append(text, row);
  }

  /** The notice line sits above everything so that it is seen in both the empty and the run state. */
  get noticeElement(): HTMLElement {
    return this.notice;
  }

  setRun(run: RunSummaryView | null, live: boolean): void {
    this.element.hidden = run === null;
    this.empty.hidden = run !== null;
    if (!run) return;
    this.title.textContent = `Run ${run.id} — ${run.status}`;
    this.title.dataset.status = run.status;
    const parts = [
      `${run.method}${run.preset ? ` · ${run.preset}` : ""} on ${run.device}`,
      `step ${run.step}${run.maxSteps ? ` / ${run.maxSteps}` : ""}`,
      `loss ${formatNumber(run.loss)}`,
      `val ${formatNumber(run.valLoss)}`,
    ];
    if (run.exit) parts.push(run.exit);
    this.details.textContent = parts.join("  ·  ");
    this.buttons.hidden = !live;
    this.stop.toggleAttribute("disabled", !(run.status === "running" || run.status === "paused" || run.status === "starting"));
    this.pause.toggleAttribute("disabled", run.status !== "running");
    this.resume.toggleAttribute("disabled", run.status !== "paused");
    this.errorBox.hidden = run.errorTail.length === 0;
    this.errorBox.textContent = run.errorTail.join("\n");
  }

  /** Multi-process runs only: how many processes, the memory spread over ranks, and the all-reduce traffic. */
  setRanks(r: RankMemoryView | null): void {
    this.ranks.hidden = r === null;
    // Each part is one inline block, so a narrow panel wraps the line between parts, not inside "all-reduce"
    // or between a number and its unit.
    const parts = r ? rankParts(r) : [];
    this.ranks.replaceChildren(...parts.flatMap((text, i) => {
      const span = document.createElement("span");
      span.textContent = text;
      return i === 0 ? [span] : [" · ", span];
    }));
  }

  showNotice(level: "info" | "error", text: string): void {
    this.notice.hidden = false;
    this.notice.dataset.level = level;
    this.notice.textContent = text;
  }
}
