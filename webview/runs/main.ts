// Entry point of the Runs view (an editor tab): the table of every run, the focused run's details, the
// comparison of the ticked runs and a run's tier timeline. Host messages are applied once per animation frame
// and acknowledged with {kind:"painted", seq} (the tests and the benchmark wait on it).
import "uplot/dist/uPlot.min.css";
import "../panel.css";
import "./runs.css";
import type { RunsHostToView } from "../../common/runsMessages";
import { readTheme, watchTheme } from "../theme";
import { CompareSection } from "./CompareSection";
import { RunDetails } from "./RunDetails";
import { RunsTable } from "./RunsTable";
import { connectRunsHost } from "./runsBridge";
import { TierTimeline } from "./TierTimeline";

const host = connectRunsHost();
let theme = readTheme();

const savePng = (name: string, dataUrl: string) => host.post({ kind: "savePng", name, dataUrl });
const details = new RunDetails(host.post);
const compare = new CompareSection(host.post, theme);
const timeline = new TierTimeline(theme, savePng);
const table = new RunsTable(
  () => compare.setIds(table.selectedIds()),
  (run) => details.setRun(run),
);

const header = document.createElement("header");
header.className = "runs-header";
const title = document.createElement("h1");
title.textContent = "HiMA runs";
const folder = document.createElement("span");
folder.className = "muted";
folder.dataset.testid = "runs-folder";
const refresh = document.createElement("button");
refresh.textContent = "Refresh";
refresh.addEventListener("click", () => host.post({ kind: "refresh" }));
const notice = document.createElement("div");
notice.className = "notice";
notice.hidden = true;
notice.setAttribute("role", "status");
notice.dataset.testid = "runs-notice";
header.append(title, folder, refresh);
const root = document.getElementById("app") ?? document.body;
root.append(header, notice, table.element, details.element, compare.element, timeline.element);

watchTheme((t) => {
  theme = t;
  compare.setTheme(t);
  timeline.setTheme(t);
});

let pending: RunsHostToView[] = [];
let frame = false;
let lastSeq: number | null = null;

function paint(): void {
  frame = false;
  const messages = pending;
  pending = [];
  for (const m of messages) {
    switch (m.kind) {
      case "runs":
        folder.textContent = m.folder;
        table.setRuns(m.runs);
        details.setRun(table.visibleRuns().find((r) => r.id === (root.querySelector("tr.focused") as HTMLElement | null)?.dataset.id) ?? null);
        break;
      case "compare":
        compare.setView(m.view);
        break;
      case "timeline":
        timeline.setView(m.view);
        break;
      case "notice":
        break;
    }
  }
  const seq = lastSeq;
  lastSeq = null;
  if (seq !== null) setTimeout(() => host.post({ kind: "painted", seq }), 0);
}

host.onMessage((m) => {
  if (m.kind === "notice") {
    notice.hidden = false;
    notice.dataset.level = m.level;
    notice.textContent = m.text;
    if (m.level === "info" && /^Saved tags/.test(m.text)) details.confirmSaved();
    return;
  }
  pending.push(m);
  lastSeq = m.seq;
  if (!frame) {
    frame = true;
    requestAnimationFrame(paint);
  }
});

host.post({ kind: "ready" });
