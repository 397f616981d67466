// Checks Mermaid diagrams with Mermaid's own parser (the npm package `mermaid`, run under node).
//
//   node tools/mermaid-check/check.mjs FILE...     each FILE holds one diagram (no ``` fences)
//
// Exit 0 when every diagram parses; 1 with the parser's message for the first that does not; 2 on bad usage.
// mermaid needs a DOM even to parse (DOMPurify, document): jsdom provides one.
import { JSDOM } from "jsdom";
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/mermaid-check/check.mjs FILE...");
  process.exit(2);
}
const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
for (const key of ["window", "document", "navigator", "Element", "HTMLElement", "SVGElement", "DOMParser", "Node"]) {
  if (globalThis[key] === undefined) {
    Object.defineProperty(globalThis, key, { value: key === "window" ? dom.window : dom.window[key], configurable: true });
  }
}
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
for (const file of files) {
  const text = readFileSync(file, "utf8");
  try {
    const result = await mermaid.parse(text);
    console.log(`${file}: ${result.diagramType} OK`);
  } catch (e) {
    console.error(`${file}: ${e && e.message ? e.message : e}`);
    process.exit(1);
  }
}
