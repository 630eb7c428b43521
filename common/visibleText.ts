// Trainer-provided names (tensor names, their groups and kinds) shown as the characters they are. A name can
// hold Unicode bidirectional overrides (U+202E turns "gpj.exe" around) or invisible characters that make one
// tensor look like another; in the tier map, its tooltip and the pin menu they appear escaped as \u{202E}.
// Shared by the panel and the host (anything that prints a tensor name).

// Bidi embeddings/overrides/isolates and marks, zero-width characters, BOM, and C0/C1 controls.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/gu;

export function visibleText(text: string): string {
  return text.replace(HIDDEN, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}}`);
}
