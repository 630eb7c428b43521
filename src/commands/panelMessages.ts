// What the panel asks of the host: controls for the live run, and the toolbar's commands.
import * as vscode from "vscode";
import type { PanelMessageHandler } from "../views/PanelHost";
import type { HimaServices } from "./services";
import { savePng } from "../views/savePng";

export function panelMessageHandler(services: HimaServices): PanelMessageHandler {
  const liveRunOrNotice = () => {
    const run = services.liveRun();
    // A control only makes sense for the run the panel is showing; a replay is read-only.
    if (!run || run.isEnded || services.panel.current !== run.model) {
      services.panel.notice("error", "No live run in the panel: controls apply to a run while it trains.");
      return undefined;
    }
    return run;
  };
  return (message) => {
    switch (message.kind) {
      case "setCutoffs":
        liveRunOrNotice()?.sendControl({ type: "set_cutoffs", hot: message.hot, warm: message.warm });
        return;
      case "pin":
        liveRunOrNotice()?.sendControl({ type: "pin", name: message.name, tier: message.tier });
        return;
      case "unpin":
        liveRunOrNotice()?.sendControl({ type: "unpin", name: message.name });
        return;
      case "setSmoothing":
        services.panel.current.setSmoothing(message.smoothing);
        services.panel.scheduleUpdate();
        return;
      case "savePng":
        return savePng(message.name, message.dataUrl);
      case "command":
        switch (message.command) {
          case "stop":
            return vscode.commands.executeCommand("hima.stopTraining");
          case "pause":
          case "resume":
          case "checkpoint":
            liveRunOrNotice()?.sendControl({ type: message.command });
            return;
          case "startTraining":
            return vscode.commands.executeCommand("hima.startTraining");
          case "openRun":
            return vscode.commands.executeCommand("hima.openRun");
        }
    }
  };
}
