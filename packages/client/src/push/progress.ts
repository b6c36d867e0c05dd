import cliProgress from "cli-progress";
import type { Writable } from "node:stream";
import { humanBytes, shortDuration, speed } from "./format.ts";

/** Progress of one path's upload. */
export interface PathProgress {
  /** `bytes` more of the NAR were sent. */
  advance(bytes: number): void;
  /** The path is done: prints `line`; `dedupBytes` of its NAR were already stored. */
  finish(line: string, dedupBytes: number): void;
  /** The upload failed: prints `line`. */
  fail(line: string): void;
}

/** How pushes report: progress bars on a terminal, plain lines elsewhere. */
export interface PushProgress {
  /** `count` more paths (`bytes` of NAR in all) are planned. */
  plan(count: number, bytes: number): void;
  startPath(path: string, narSize: number): PathProgress;
  /** Prints a message line (above the bars on a terminal). */
  log(line: string): void;
  /** Removes the bars. */
  stop(): void;
}

/** Plain output for pipes and logs: one line per finished path, no redraws. */
export class PlainProgress implements PushProgress {
  constructor(private readonly out: Writable) {}
  plan(_count: number, _bytes: number): void {}
  startPath(_path: string, _narSize: number): PathProgress {
    return {
      advance: () => {},
      finish: (line) => this.log(line),
      fail: (line) => this.log(line),
    };
  }
  log(line: string): void {
    this.out.write(`${line}\n`);
  }
  stop(): void {}
}

interface Totals {
  paths: number;
  donePaths: number;
  bytes: number;
  sentBytes: number;
  dedupBytes: number;
  doneBytes: number;
}

/**
 * Terminal output with cli-progress: an overall bar (paths, bytes, speed, ETA, deduplicated
 * share of finished paths) and one bar per upload in flight, like Attic's indicatif bars.
 */
export class TtyProgress implements PushProgress {
  private readonly bars: cliProgress.MultiBar;
  private overall: cliProgress.SingleBar | undefined;
  private readonly totals: Totals = { paths: 0, donePaths: 0, bytes: 0, sentBytes: 0, dedupBytes: 0, doneBytes: 0 };

  constructor(out: Writable) {
    this.bars = new cliProgress.MultiBar({
      stream: out,
      // The caller decided this is a terminal; draw even if the stream object does not say so.
      noTTYOutput: true,
      notTTYSchedule: 100,
      clearOnComplete: true,
      hideCursor: true,
      barsize: 30,
      format: (options, params, payload: { label?: string; overall?: boolean }) => {
        const bar = cliProgress.Format.BarFormat(params.total > 0 ? params.value / params.total : 0, options);
        const elapsed = Date.now() - params.startTime;
        if (payload.overall) {
          const t = this.totals;
          const rate = elapsed > 0 ? t.sentBytes / (elapsed / 1000) : 0;
          const eta = rate > 0 ? (t.bytes - t.sentBytes) / rate : Infinity;
          const dedup = t.doneBytes > 0 ? ((t.dedupBytes / t.doneBytes) * 100).toFixed(1) : "0.0";
          return `Overall ${bar} ${t.donePaths}/${t.paths} paths ${humanBytes(t.sentBytes)}/${humanBytes(t.bytes)} (${speed(t.sentBytes, elapsed)}, ETA ${shortDuration(eta)}, ${dedup}% deduplicated)`;
        }
        return `${(payload.label ?? "").padEnd(20).slice(0, 20)} ${bar} ${humanBytes(params.value).padStart(10)} (${speed(params.value, elapsed)})`;
      },
      barCompleteChar: "█",
      barIncompleteChar: " ",
    });
  }

  plan(count: number, bytes: number): void {
    this.totals.paths += count;
    this.totals.bytes += bytes;
    if (!this.overall) this.overall = this.bars.create(Math.max(this.totals.bytes, 1), 0, { overall: true });
    else this.overall.setTotal(Math.max(this.totals.bytes, 1));
  }

  startPath(path: string, narSize: number): PathProgress {
    const label = path.slice(path.lastIndexOf("/") + 1 + 33);
    const bar = this.bars.create(Math.max(narSize, 1), 0, { label });
    const close = (line: string) => {
      this.bars.remove(bar);
      this.log(line);
    };
    return {
      advance: (bytes) => {
        bar.increment(bytes);
        this.totals.sentBytes += bytes;
        this.overall?.update(this.totals.sentBytes);
      },
      finish: (line, dedupBytes) => {
        this.totals.donePaths++;
        this.totals.doneBytes += narSize;
        this.totals.dedupBytes += dedupBytes;
        close(line);
      },
      fail: (line) => {
        this.totals.donePaths++;
        close(line);
      },
    };
  }

  log(line: string): void {
    this.bars.log(`${line}\n`);
    this.bars.update();
  }

  stop(): void {
    this.bars.stop();
  }
}
