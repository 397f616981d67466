// Validates Adaptive Cards with the Adaptive Cards library's own parser: AdaptiveCard.parse with a
// SerializationContext (which collects parse events: unknown elements, unknown actions, bad values), then
// validateProperties() (missing required properties, version mismatches). A card is valid when both report nothing.
import { createRequire } from "node:module";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

// The package's ES build (lib/) imports paths without extensions, which node refuses: load its UMD build (dist/).
const AC = createRequire(import.meta.url)("adaptivecards/dist/adaptivecards.js");

export const SNAPSHOTS = join(dirname(fileURLToPath(import.meta.url)), "../../crates/core/tests/data/notifications");

/** Every problem the library reports for one card, as strings; empty when the card is valid. */
export function problems(card) {
  const context = new AC.SerializationContext(AC.Versions.v1_5);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, context);
  const out = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    out.push(`parse: ${AC.ValidationEvent[e.event] ?? e.event}: ${e.message}`);
  }
  const results = parsed.validateProperties();
  for (const e of results.validationEvents) out.push(`validate: ${AC.ValidationEvent[e.event] ?? e.event}: ${e.message}`);
  return out;
}

/** The card inside a Teams Workflows webhook payload, after checking the envelope. */
export function cardOf(payload) {
  if (payload.type !== "message") throw new Error("envelope: type must be \"message\"");
  const a = payload.attachments?.[0];
  if (a?.contentType !== "application/vnd.microsoft.card.adaptive") throw new Error("envelope: contentType");
  return a.content;
}

export function teamsSnapshots() {
  return readdirSync(SNAPSHOTS).filter((f) => f.endsWith(".teams.json"))
    .map((f) => ({ file: f, payload: JSON.parse(readFileSync(join(SNAPSHOTS, f), "utf8")) }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `node check.mjs FILE...`: validate payloads given on the command line (or every snapshot).
  const files = process.argv.slice(2);
  const items = files.length ? files.map((f) => ({ file: f, payload: JSON.parse(readFileSync(f, "utf8")) })) : teamsSnapshots();
  let bad = 0;
  for (const { file, payload } of items) {
    const p = problems(cardOf(payload));
    if (p.length) { bad++; console.log(`${file}:\n  ${p.join("\n  ")}`); }
  }
  console.log(`${items.length - bad} passed, ${bad} failed`);
  process.exit(bad ? 1 : 0);
}
