import { expect } from "chai";
import { BoundedMap } from "./bounded-map.ts";

describe("BoundedMap", function () {
  it("forgets the oldest inserted key when a new key would exceed the bound", function () {
    const map = new BoundedMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    map.set("c", 3);
    expect([map.has("a"), map.get("b"), map.get("c"), map.size]).to.deep.equal([false, 2, 3, 2]);
  });

  it("replaces a present key in place without evicting another", function () {
    const map = new BoundedMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    map.set("a", 10);
    expect([map.get("a"), map.get("b"), map.size]).to.deep.equal([10, 2, 2]);
  });

  it("holds nothing with a bound of zero (caching turned off)", function () {
    const map = new BoundedMap<string, number>(0);
    map.set("a", 1);
    expect([map.has("a"), map.size]).to.deep.equal([false, 0]);
  });

  it("deletes and clears", function () {
    const map = new BoundedMap<string, number>(3);
    map.set("a", 1);
    map.set("b", 2);
    expect(map.delete("a")).to.equal(true);
    map.clear();
    expect(map.size).to.equal(0);
  });
});
