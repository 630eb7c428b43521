// The panel page's security: scripts only with the per-load nonce, nothing inline, resources only from
// the webview's own origin (a CSP mistake here would let a malicious events.jsonl run script in the panel).
import { test } from "node:test";
import assert from "node:assert/strict";
import { contentSecurityPolicy, newNonce, panelHtml } from "../../src/views/panelHtml";

const input = {
  scriptUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js",
  styleUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.css",
  cspSource: "https://*.vscode-cdn.net",
  nonce: "abc123",
};

function cspOf(html: string): Map<string, string[]> {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
  assert.ok(m, "the page has a CSP meta tag");
  const directives = new Map<string, string[]>();
  for (const d of m[1].split(";").map((s) => s.trim()).filter(Boolean)) {
    const [name, ...values] = d.split(/\s+/);
    directives.set(name, values);
  }
  return directives;
}

test("CSP denies by default and allows scripts only with the nonce", () => {
  const csp = cspOf(panelHtml(input));
  assert.deepEqual(csp.get("default-src"), ["'none'"]);
  assert.deepEqual(csp.get("script-src"), ["'nonce-abc123'"]);
  assert.deepEqual(csp.get("style-src"), [input.cspSource, "'nonce-abc123'"]);
  assert.deepEqual(csp.get("img-src"), [input.cspSource, "data:"]);
  assert.deepEqual(csp.get("font-src"), [input.cspSource]);
  for (const values of csp.values()) {
    assert.ok(!values.includes("'unsafe-inline'") && !values.includes("'unsafe-eval'"), "no unsafe-* source");
  }
});

test("the page loads exactly the bundle: one nonce'd script and the stylesheet, no inline script", () => {
  const html = panelHtml(input);
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0][1], /nonce="abc123"/);
  assert.match(scripts[0][1], /src="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/dist\/webview\.js"/);
  assert.equal(scripts[0][2].trim(), "", "no inline script body");
  assert.match(html, /<link rel="stylesheet" href="[^"]*\/dist\/webview\.css"/);
  assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
});

test("URIs are attribute-escaped and a nonce that could break out of the CSP is refused", () => {
  const html = panelHtml({ ...input, scriptUri: 'x"><script>alert(1)</script>' });
  assert.equal([...html.matchAll(/<script/g)].length, 1);
  assert.throws(() => panelHtml({ ...input, nonce: "a' 'unsafe-inline" }), /nonce/);
});

test("every page load gets a fresh, unguessable nonce", () => {
  const nonces = new Set(Array.from({ length: 50 }, newNonce));
  assert.equal(nonces.size, 50);
  for (const n of nonces) assert.match(n, /^[A-Za-z0-9]{32,}$/);
  assert.ok(contentSecurityPolicy("src", "n").endsWith(";"));
});
