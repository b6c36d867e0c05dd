import { isLevelEnabled, type Logger, type LogLevel } from "@attic-ts/core";

/**
 * A request's logger: `parent.child(bindings)`, made when the first message that the parent's
 * level lets through is written. Why not at once: a pino child costs an object with its own
 * prototype and the bindings serialized, for every request, and most requests (a narinfo hit)
 * write nothing at the levels a server runs at. A parent without `isLevelEnabled` gets its
 * child on the first message of any level.
 */
export class RequestLogger implements Logger {
  #child: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  debug(obj: object | string, msg?: string): void {
    this.#write("debug", obj, msg);
  }

  info(obj: object | string, msg?: string): void {
    this.#write("info", obj, msg);
  }

  warn(obj: object | string, msg?: string): void {
    this.#write("warn", obj, msg);
  }

  error(obj: object | string, msg?: string): void {
    this.#write("error", obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return this.#bound().child(bindings);
  }

  isLevelEnabled(level: LogLevel): boolean {
    return isLevelEnabled(this.#child ?? this.parent, level);
  }

  #write(level: LogLevel, obj: object | string, msg: string | undefined): void {
    // Once made, the child decides (pino fixes a child's level when it is created).
    if (this.#child === undefined && !isLevelEnabled(this.parent, level)) return;
    this.#bound()[level](obj, msg);
  }

  #bound(): Logger {
    return (this.#child ??= this.parent.child(this.bindings));
  }
}
