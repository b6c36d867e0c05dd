import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { humanBytes, uploadedDetail } from "../src/push/format.ts";
import { PlainProgress, TtyProgress } from "../src/push/progress.ts";

function sink() {
  const s = new PassThrough();
  let text = "";
  s.on("data", (d: Buffer) => (text += d.toString()));
  return { s, text: () => text };
}

describe("progress output", () => {
  it("formats sizes and details like Attic (indicatif HumanBytes)", () => {
    expect(humanBytes(120)).toBe("120 B");
    expect(humanBytes(1536)).toBe("1.50 KiB");
    expect(humanBytes(5 * 1024 * 1024)).toBe("5.00 MiB");
    expect(uploadedDetail("Deduplicated", 100, 10, null)).toBe("deduplicated");
    expect(uploadedDetail("Uploaded", 2048, 1000, 0.005)).toBe("2.00 KiB/s");
    expect(uploadedDetail("Uploaded", 2048, 1000, 0.312)).toBe("2.00 KiB/s, 31.2% deduplicated");
  });

  it("plain mode prints one line per path and nothing else", () => {
    const out = sink();
    const p = new PlainProgress(out.s);
    p.plan(2, 300);
    const a = p.startPath("/nix/store/x-a", 100);
    a.advance(100);
    a.finish("✅ /nix/store/x-a (1 B/s)", 0);
    p.startPath("/nix/store/x-b", 200).fail("❌ /nix/store/x-b: boom");
    p.stop();
    expect(out.text()).toBe("✅ /nix/store/x-a (1 B/s)\n❌ /nix/store/x-b: boom\n");
  });

  it("terminal mode draws per-path and overall bars with speed, ETA and deduplicated share", async () => {
    const out = sink();
    const p = new TtyProgress(out.s);
    p.plan(2, 4096);
    const a = p.startPath(`/nix/store/${"a".repeat(32)}-hello-2.12`, 2048);
    const b = p.startPath(`/nix/store/${"b".repeat(32)}-world`, 2048);
    a.advance(1024);
    await new Promise((r) => setTimeout(r, 250));
    const drawing = out.text();
    expect(drawing).toContain("hello-2.12");
    expect(drawing).toMatch(/Overall .* 0\/2 paths 1\.00 KiB\/4\.00 KiB \(.*\/s, ETA .*, 0\.0% deduplicated\)/);
    a.advance(1024);
    a.finish("✅ a done", 2048);
    b.advance(2048);
    b.finish("✅ b done", 0);
    await new Promise((r) => setTimeout(r, 250));
    expect(out.text()).toMatch(/2\/2 paths 4\.00 KiB\/4\.00 KiB .*50\.0% deduplicated/);
    p.stop();
    expect(out.text()).toContain("✅ a done\n");
    expect(out.text()).toContain("✅ b done\n");
  });
});
