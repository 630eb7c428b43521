// The panel's HTML document, shared by the extension host (webview view and editor panel) and the panel tests
// so both load the bundle the same way. Pure string building: no DOM and no vscode import.

export interface PanelHtmlOptions {
  /** Per-load random nonce for the script tag (CSP). */
  nonce: string;
  /** The webview's CSP source (webview.cspSource in VS Code), allowed for styles, images and fonts. */
  cspSource: string;
  /** URIs of dist/webview.js and dist/webview.css as the webview can load them. */
  scriptUri: string;
  styleUri: string;
}

const attr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

export function panelHtml(o: PanelHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce)) throw new Error("panelHtml: the nonce must be at least 16 base64/hex characters");
  const csp = [
    "default-src 'none'",
    `img-src ${o.cspSource} data:`,
    `font-src ${o.cspSource}`,
    `style-src ${o.cspSource}`,
    `script-src 'nonce-${o.nonce}'`,
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(o.styleUri)}">
<title>HiMA</title>
</head>
<body>
<div id="app"></div>
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>
`;
}
