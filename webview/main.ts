// Entry point of the panel webview. Builds the views, then applies host messages at most once per animation
// frame: several snapshot/update messages arriving within a frame are merged and painted together, and the
// host is told which message was painted ({kind:"painted", seq}), which the panel benchmark measures.
import "uplot/dist/uPlot.min.css";
import "./panel.css";
import type { HostToWebview, PanelSnapshot, PanelUpdate, TensorState } from "../common/messages";
import type { Tier } from "../protocol/protocol.generated";
import { connectToHost } from "./hostBridge";
import { readTheme, watchTheme } from "./theme";
import { TierMap } from "./TierMap";
import { TierLegend } from "./TierLegend";
import { CutoffControls } from "./CutoffControls";
import { Charts } from "./Charts";
import { RunHeader } from "./RunHeader";
import { canvasPng } from "./charts/png";

const host = connectToHost();
let theme = readTheme();

const header = new RunHeader(host.post);
const legend = new TierLegend(theme);
const tierMap = new TierMap(theme, host.post);
const cutoffs = new CutoffControls(host.post);
const charts = new Charts(theme, host.post);

const body = document.createElement("main");
body.className = "panel-body";
const mapSection = document.createElement("section");
mapSection.className = "map-section";
const mapTitle = document.createElement("h2");
mapTitle.textContent = "Tier map";
const mapPng = document.createElement("button");
mapPng.className = "link-button";
mapPng.textContent = "PNG";
mapPng.title = "Save the tier map as PNG";
mapPng.dataset.testid = "png-tiermap";
mapPng.addEventListener("click", () => {
  const canvas = tierMap.element.querySelector("canvas");
  if (canvas) host.post({ kind: "savePng", name: `tier-map-step-${legendStep ?? 0}.png`, dataUrl: canvasPng(canvas) });
});
mapTitle.append(" ", mapPng);
mapSection.append(mapTitle, legend.element, tierMap.element);
body.append(mapSection, cutoffs.element, charts.element);
const root = document.getElementById("app") ?? document.body;
root.append(header.noticeElement, header.element, header.empty, body);
header.setRun(null, false);
body.hidden = true;

watchTheme((t) => {
  theme = t;
  legend.setTheme(t);
  tierMap.setTheme(t);
  charts.setTheme(t);
});

let tensors: PanelSnapshot["tensors"] = [];
/** Step of the tiering on screen (names the tier map's PNG). */
let legendStep: number | null = null;

/** Elements pinned per tier, for the legend's requested-vs-achieved note. */
function pinnedElements(states: TensorState[]): Record<Tier, number> {
  const out = { hot: 0, warm: 0, cold: 0 };
  states.forEach((s, i) => {
    if (s.pinned && tensors[i]) out[s.tier] += tensors[i].numel;
  });
  return out;
}

function applySnapshot(s: PanelSnapshot): void {
  tensors = s.tensors;
  tierMap.setTensors(s.tensors);
  tierMap.setTiers(s.tiers, s.history);
  legend.setCounts(s.counts, s.tierStep);
  legendStep = s.tierStep;
  legend.setShares(s.counts, s.cutoffs, pinnedElements(s.tiers));
  cutoffs.setCutoffs(s.cutoffs);
  applyUpdate({ run: s.run, live: s.live, controls: s.controls, charts: s.charts, rankMemory: s.rankMemory });
}

let currentRun: PanelSnapshot["run"] = null;
let currentLive = false;

function applyUpdate(u: PanelUpdate): void {
  if (u.live !== undefined) {
    currentLive = u.live;
    tierMap.setLive(u.live);
    cutoffs.setLive(u.live);
  }
  if (u.run !== undefined) currentRun = u.run;
  if (u.run !== undefined || u.live !== undefined) {
    header.setRun(currentRun, currentLive);
    body.hidden = currentRun === null;
  }
  if (u.tensors) {
    tensors = u.tensors;
    tierMap.setTensors(u.tensors);
  }
  if (u.tiers) {
    tierMap.setTiers(u.tiers.states, u.tiers.history);
    legend.setCounts(u.tiers.counts, u.tiers.step);
    legendStep = u.tiers.step;
    legend.setShares(u.tiers.counts, u.tiers.cutoffs, pinnedElements(u.tiers.states));
    cutoffs.setCutoffs(u.tiers.cutoffs);
  }
  if (u.controls) cutoffs.setControls(u.controls);
  if (u.charts) charts.setData(u.charts);
  if (u.rankMemory !== undefined) {
    header.setRanks(u.rankMemory);
    charts.setProcesses(u.rankMemory?.nproc ?? null);
  }
}

// Messages waiting for the next frame. A snapshot replaces everything before it; updates carry whole
// sections, so merging them field by field keeps the newest of each.
let pendingSnapshot: PanelSnapshot | null = null;
let pendingUpdate: PanelUpdate = {};
let pendingSeq: number | null = null;
let frameRequested = false;

function paint(): void {
  const start = performance.now();
  frameRequested = false;
  const snapshot = pendingSnapshot;
  const update = pendingUpdate;
  const seq = pendingSeq;
  pendingSnapshot = null;
  pendingUpdate = {};
  pendingSeq = null;
  if (snapshot) applySnapshot(snapshot);
  applyUpdate(update);
  // A performance entry per frame, so the benchmark can tell the panel's own work from queueing. uPlot draws
  // in a microtask queued by setData, which runs before this one.
  queueMicrotask(() => performance.measure("hima-paint", { start }));
  // rAF runs before the frame is painted; a zero-delay task runs after it, so "painted" means on screen.
  if (seq !== null) setTimeout(() => host.post({ kind: "painted", seq }), 0);
}

function schedule(seq: number): void {
  pendingSeq = seq;
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(paint);
  }
}

host.onMessage((message: HostToWebview) => {
  switch (message.kind) {
    case "snapshot":
      pendingSnapshot = message.snapshot;
      pendingUpdate = {};
      schedule(message.seq);
      break;
    case "update":
      pendingUpdate = { ...pendingUpdate, ...message.update };
      schedule(message.seq);
      break;
    case "notice":
      header.showNotice(message.level, message.text);
      break;
  }
});

host.post({ kind: "ready" });
