// node --test: every Teams snapshot the Rust renderer produces passes the Adaptive Cards parser with no event, and
// the check is not vacuous: broken cards are reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { problems, cardOf, teamsSnapshots } from "./check.mjs";

test("every Teams snapshot parses and validates with no event", () => {
  const snaps = teamsSnapshots();
  assert.ok(snaps.length >= 10, `expected a snapshot per notification kind, found ${snaps.length}`);
  for (const { file, payload } of snaps) assert.deepEqual(problems(cardOf(payload)), [], file);
});

const good = () => cardOf(teamsSnapshots().find((s) => s.file === "run-failed.teams.json").payload);

test("an unknown element type is reported", () => {
  const card = good();
  card.body.push({ type: "Marquee", text: "nope" });
  assert.match(problems(card).join("\n"), /Marquee/);
});

test("an unknown action type is reported", () => {
  const card = good();
  card.actions.push({ type: "Action.Teleport", title: "go" });
  assert.match(problems(card).join("\n"), /Action\.Teleport/);
});

test("an OpenUrl action without its required url is reported", () => {
  const card = good();
  delete card.actions[0].url;
  assert.notDeepEqual(problems(card), []);
});

test("a Workflows payload that is not a message with an adaptive card attachment is refused", () => {
  assert.throws(() => cardOf({ text: "hello" }), /envelope/);
});
