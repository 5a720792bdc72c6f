// The browser's delta updates (realtime/static/realtime/patch.js) against the cases that
// tests/graphics/test_patch_cases.py checks against the Python reference: same inputs, same
// results, so the two implementations are equal on every case.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import {
  PatchInvalid,
  VersionGap,
  canvasPatchApply,
  graphicApplyEvent,
  mergePatch,
} from "../../realtime/static/realtime/patch.js";

const cases = JSON.parse(readFileSync(new URL("./patch_cases.json", import.meta.url), "utf8"));

// Frozen inputs make any mutation throw (ES modules are strict), so "never mutates" is tested
// on every case rather than promised.
function deepFreeze(value) {
  if (value !== null && typeof value === "object") {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe("shared cases (tests/js/patch_cases.json)", () => {
  test("there are enough of them to mean something", () => {
    assert.ok(cases.length >= 15, `${cases.length} cases`);
  });

  for (const testCase of cases) {
    test(testCase.name, () => {
      const graphic = deepFreeze(structuredClone(testCase.graphic));
      const event = deepFreeze(structuredClone(testCase.event));
      if ("expected" in testCase) {
        assert.deepEqual(graphicApplyEvent(graphic, event), testCase.expected);
        return;
      }
      const errorClass = { VersionGap, PatchInvalid }[testCase.error.type];
      assert.ok(errorClass, `unknown error type ${testCase.error.type}`);
      assert.throws(
        () => graphicApplyEvent(graphic, event),
        (error) => {
          assert.ok(error instanceof errorClass, `${error} is not a ${testCase.error.type}`);
          if (testCase.error.details) assert.deepEqual(error.details, testCase.error.details);
          return true;
        },
      );
    });
  }
});

// RFC 7396 appendix A, as tests/graphics/test_patch.py runs them on merge_patch.
const RFC_7396_EXAMPLES = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [["a", "b"], ["c", "d"], ["c", "d"]],
  [{ a: "b" }, ["c"], ["c"]],
  [{ a: "foo" }, null, null],
  [{ a: "foo" }, "bar", "bar"],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

describe("mergePatch follows RFC 7396", () => {
  for (const [target, patch, expected] of RFC_7396_EXAMPLES) {
    test(`${JSON.stringify(target)} + ${JSON.stringify(patch)}`, () => {
      assert.deepEqual(mergePatch(deepFreeze(target), deepFreeze(patch)), expected);
    });
  }

  test("returns a new object", () => {
    const target = { a: 1 };
    const result = mergePatch(target, { b: 2 });
    assert.notEqual(result, target);
    assert.deepEqual(target, { a: 1 });
  });

  test("keys named like Object.prototype members are plain keys", () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"x": 1}}');
    const result = mergePatch({}, patch);
    assert.deepEqual(Object.keys(result).sort(), ["__proto__", "constructor"]);
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.equal({}.polluted, undefined);
  });
});

describe("canvasPatchApply", () => {
  test("a moved element keeps its place and the others are unchanged", () => {
    const canvas = deepFreeze({
      background: null,
      elements: [
        { id: "a", type: "text", x: 1 },
        { id: "b", type: "text", x: 2 },
      ],
    });
    const result = canvasPatchApply(canvas, { elements: { a: { x: 5 } } });
    assert.deepEqual(result.elements, [
      { id: "a", type: "text", x: 5 },
      { id: "b", type: "text", x: 2 },
    ]);
    assert.notEqual(result, canvas);
  });
});

test("VersionGap names both versions", () => {
  const gap = new VersionGap(5, 4);
  assert.equal(gap.baseVersion, 5);
  assert.equal(gap.version, 4);
  assert.match(gap.message, /version 5.*at 4/);
});
