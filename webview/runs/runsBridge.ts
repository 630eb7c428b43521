// The Runs view's door to the extension host (as webview/hostBridge.ts is the tier panel's). Outside VS Code
// (the headless tests and the benchmark) it exposes `window.__himaRunsTest`: what the view sent, and a way
// to deliver host messages.
import type { RunsHostToView, RunsViewToHost } from "../../common/runsMessages";

declare global {
  interface Window {
    __himaRunsTest?: { sent: RunsViewToHost[]; post: (msg: RunsHostToView) => void };
  }
}

export interface RunsBridge {
  post(message: RunsViewToHost): void;
  onMessage(handler: (message: RunsHostToView) => void): void;
}

const KINDS = new Set(["runs", "compare", "timeline", "notice"]);

export function connectRunsHost(): RunsBridge {
  let send: (message: RunsViewToHost) => void;
  if (typeof window.acquireVsCodeApi === "function") {
    const api = window.acquireVsCodeApi();
    send = (m) => api.postMessage(m);
  } else {
    const sent: RunsViewToHost[] = [];
    window.__himaRunsTest = { sent, post: (msg) => window.postMessage(msg, "*") };
    send = (m) => void sent.push(m);
  }
  return {
    post: send,
    onMessage(handler) {
      window.addEventListener("message", (event: MessageEvent) => {
        const data = event.data as RunsHostToView | null;
        if (data && typeof data === "object" && KINDS.has((data as { kind: string }).kind)) handler(data);
      });
    },
  };
}
