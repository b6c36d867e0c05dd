import { describe, expect, it } from "vitest";
import { MissTable } from "../../src/util/miss-table.ts";

/** A distinct 32-character key per number, in nix-base32's alphabet. */
function key(n: number): string {
  const alphabet = "0123456789abcdfghijklmnpqrsvwxyz";
  let text = "";
  for (let i = 0; i < 32; i++) text += alphabet[(Math.imul(n + 1, 2654435761 + i * 40503) >>> (i % 20)) & 31];
  return text;
}

describe("MissTable", () => {
  it("holds a key for its owner until it expires", () => {
    const table = new MissTable(32, 64);
    table.add(1, key(1), 100);
    expect(table.has(1, key(1), 99)).toBe(true);
    expect(table.has(1, key(1), 100)).toBe(false);
    expect(table.has(2, key(1), 0)).toBe(false);
    expect(table.has(1, key(2), 0)).toBe(false);
    // Adding again moves the expiry.
    table.add(1, key(1), 200);
    expect(table.has(1, key(1), 150)).toBe(true);
  });

  it("tells keys that differ in one character apart", () => {
    const table = new MissTable(32, 64);
    const a = key(7);
    const b = a.slice(0, 31) + (a[31] === "0" ? "1" : "0");
    table.add(1, a, 100);
    expect(table.has(1, b, 0)).toBe(false);
    table.add(1, b, 100);
    expect(table.has(1, a, 0)).toBe(true);
    expect(table.has(1, b, 0)).toBe(true);
  });

  it("forgets a key, an owner's keys, or everything", () => {
    const table = new MissTable(32, 64);
    for (let i = 0; i < 6; i++) table.add(1 + (i % 2), key(i), 100);
    table.delete(1, key(0));
    expect(table.has(1, key(0), 0)).toBe(false);
    expect(table.has(1, key(2), 0)).toBe(true);
    // Deleting under another owner does nothing.
    table.delete(1, key(1));
    expect(table.has(2, key(1), 0)).toBe(true);
    table.deleteOwner(2);
    expect([1, 3, 5].some((i) => table.has(2, key(i), 0))).toBe(false);
    expect(table.has(1, key(4), 0)).toBe(true);
    table.clear();
    expect(table.has(1, key(4), 0)).toBe(false);
  });

  it("holds at most its capacity, replacing the entry of a full bucket that expires first", () => {
    const table = new MissTable(32, 8);
    expect(table.capacity).toBe(8);
    // 1,000 keys with rising expiries: whatever stays is among the newest, never beyond capacity.
    for (let i = 0; i < 1000; i++) table.add(1, key(i), 1000 + i);
    const held = Array.from({ length: 1000 }, (_, i) => i).filter((i) => table.has(1, key(i), 0));
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThanOrEqual(8);
    expect(table.has(1, key(999), 0)).toBe(true);
  });

  it("ignores keys of another length and owners below 1", () => {
    const table = new MissTable(32, 8);
    table.add(1, "short", 100);
    table.add(0, key(1), 100);
    expect(table.has(1, "short", 0)).toBe(false);
    expect(table.has(0, key(1), 0)).toBe(false);
  });

  it("rounds its capacity up to a power of two, at least one bucket", () => {
    expect(new MissTable(32, 1).capacity).toBe(4);
    expect(new MissTable(32, 1000).capacity).toBe(1024);
  });
});
