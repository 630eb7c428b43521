// The run focused in the table: its tags and note (saved into the run folder), and what can be done with it:
// open it in the tier panel, show its tier timeline, rename it, delete it (the host asks for confirmation).
import type { RunSummary, RunsViewToHost } from "../../common/runsMessages";

export class RunDetails {
  readonly element = document.createElement("section");
  private readonly title = document.createElement("h2");
  private readonly facts = document.createElement("div");
  private readonly tags = document.createElement("input");
  private readonly note = document.createElement("textarea");
  private readonly saved = document.createElement("span");
  private run: RunSummary | null = null;

  constructor(private readonly send: (m: RunsViewToHost) => void) {
    this.element.className = "run-details-pane";
    this.element.dataset.testid = "run-details-pane";
    this.element.hidden = true;
    this.facts.className = "muted";
    const tagsLabel = document.createElement("label");
    tagsLabel.textContent = "Tags (comma separated) ";
    this.tags.dataset.testid = "run-tags";
    tagsLabel.append(this.tags);
    const noteLabel = document.createElement("label");
    noteLabel.textContent = "Note";
    this.note.rows = 3;
    this.note.dataset.testid = "run-note";
    noteLabel.append(this.note);
    const buttons = document.createElement("div");
    buttons.className = "button-row";
    const button = (text: string, id: string, onClick: () => void) => {
      const b = document.createElement("button");
      b.textContent = text;
      b.dataset.action = id;
      b.addEventListener("click", onClick);
      buttons.append(b);
      return b;
    };
    button("Save tags and note", "save", () => this.save());
    button("Open in tier panel", "open", () => this.run && this.send({ kind: "openRun", id: this.run.id }));
    button("Tier timeline", "timeline", () => this.run && this.send({ kind: "timeline", id: this.run.id }));
    button("Rename…", "rename", () => this.run && this.send({ kind: "rename", id: this.run.id }));
    button("Delete…", "delete", () => this.run && this.send({ kind: "delete", id: this.run.id }));
    this.saved.className = "muted";
    this.saved.dataset.testid = "meta-saved";
    buttons.append(this.saved);
    this.element.append(this.title, this.facts, tagsLabel, noteLabel, buttons);
  }

  setRun(run: RunSummary | null): void {
    const changed = run?.id !== this.run?.id;
    this.run = run;
    this.element.hidden = run === null;
    if (!run) return;
    this.title.textContent = run.name === run.id ? run.id : `${run.name} (${run.id})`;
    this.facts.textContent = [run.status, run.method, run.device, run.nParams !== null ? `${(run.nParams / 1e6).toFixed(2)}M params` : null, run.maxSteps ? `${run.steps ?? 0} / ${run.maxSteps} steps` : null]
      .filter(Boolean)
      .join(" · ");
    if (changed || document.activeElement !== this.tags) this.tags.value = run.tags.join(", ");
    if (changed || document.activeElement !== this.note) this.note.value = run.note;
    if (changed) this.saved.textContent = "";
  }

  private save(): void {
    if (!this.run) return;
    const tags = [...new Set(this.tags.value.split(",").map((t) => t.trim()).filter((t) => t !== ""))];
    this.send({ kind: "setMeta", id: this.run.id, tags, note: this.note.value });
    this.saved.textContent = "saving…";
  }

  /** The host stored the meta (a fresh run list follows). */
  confirmSaved(): void {
    this.saved.textContent = "saved";
  }
}
