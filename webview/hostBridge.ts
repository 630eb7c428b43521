// The panel's only door to the extension host. Inside VS Code it wraps acquireVsCodeApi(); loaded in a plain
// page (the headless panel tests and the benchmark) it exposes `window.__himaTest` so a test can read what the
// panel sent and inject host messages through the ordinary window "message" event.
import type { HostToWebview, WebviewToHost } from "../common/messages";

interface VsCodeApi {
  postMessage(message: unknown): void;
}

declare global {
  interface Window {
    acquireVsCodeApi?: () => VsCodeApi;
    __himaTest?: { sent: WebviewToHost[]; post: (msg: HostToWebview) => void };
  }
}

export interface HostBridge {
  post(message: WebviewToHost): void;
  onMessage(handler: (message: HostToWebview) => void): void;
}

export function connectToHost(): HostBridge {
  let send: (message: WebviewToHost) => void;
  if (typeof window.acquireVsCodeApi === "function") {
    const api = window.acquireVsCodeApi();
    send = (m) => api.postMessage(m);
  } else {
    const sent: WebviewToHost[] = [];
    window.__himaTest = { sent, post: (msg) => window.postMessage(msg, "*") };
    send = (m) => void sent.push(m);
  }
  return {
    post: send,
    onMessage(handler) {
      window.addEventListener("message", (event: MessageEvent) => {
        const data = event.data as HostToWebview | null;
        // Only host message shapes are handled; anything else (e.g. from an extension of the page) is ignored.
        if (data && typeof data === "object" && (data.kind === "snapshot" || data.kind === "update" || data.kind === "notice")) {
          handler(data);
        }
      });
    },
  };
}
