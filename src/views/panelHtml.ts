// The panel's HTML document, shared by the sidebar view and the editor panel. No `vscode` import, so the
// CSP can be unit-tested: everything the page loads comes from the extension's dist/ folder, scripts only
// with the per-load nonce, nothing inline.
import { randomBytes } from "node:crypto";

export interface PanelHtmlInput {
  /** webview.asWebviewUri(dist/webview.js) as a string. */
  scriptUri: string;
  /** webview.asWebviewUri(dist/webview.css) as a string. */
  styleUri: string;
  /** webview.cspSource: the origin the webview serves local resources from. */
  cspSource: string;
  nonce: string;
  /** The document title (default: the tier panel's). */
  title?: string;
}

/** 32 random bytes, base64 — a fresh one per HTML load, so an injected script cannot guess it. */
export function newNonce(): string {
  return randomBytes(32).toString("base64").replace(/[+/=]/g, "");
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  // @vscode-elements (Lit) styles its shadow roots with constructable stylesheets (adoptedStyleSheets), which
  // style-src does not govern, so no 'unsafe-inline' is needed; the webview sets styles through CSSOM only.
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join("; ") + ";";
}

const escapeAttr = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function panelHtml(input: PanelHtmlInput): string {
  if (!/^[A-Za-z0-9]+$/.test(input.nonce)) throw new Error("panelHtml: the nonce must be alphanumeric");
  const csp = contentSecurityPolicy(input.cspSource, input.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(input.styleUri)}" nonce="${input.nonce}">
<title>${escapeAttr(input.title ?? "HiMA Tier Panel")}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${input.nonce}" src="${escapeAttr(input.scriptUri)}"></script>
</body>
</html>
`;
}
