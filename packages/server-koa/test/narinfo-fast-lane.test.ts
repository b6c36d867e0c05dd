import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noopLogger, type Logger } from "@attic-ts/core";
import { createApp, settingsFor, type HostOptions } from "../src/app.ts";
import type { RequestHandler } from "../src/cli/http-host.ts";
import { withNarInfoFastLane } from "../src/http/narinfo-fast-lane.ts";
import { createCacheHttp, infoFor, standardFixtures, uploadViaHeader, type NarFixture } from "./fixtures.ts";
import { ALL, closeServer, startServer, type TestServer } from "./server.ts";

/**
 * The narinfo fast lane must answer exactly as the Koa stack does. Each request goes, as raw
 * bytes, to two servers on the same engine: the Koa app alone, and the lane in front of the
 * same app. Their raw responses must be equal byte for byte except for the Date line, and
 * the lane must have answered (or left to Koa) the requests the test says it does: a count of
 * the requests it handed on tells which.
 */
interface Pair {
  koa: Server;
  lane: Server;
  /** Requests the lane handed to the Koa app. */
  handedOn: number;
}

const ABSENT = "0c9ix7v4dn1dpgkw2aq8wplq1xnbb1bz";

async function listenOn(handler: RequestHandler): Promise<Server> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

async function startPair(s: TestServer, options: HostOptions): Promise<Pair> {
  const app = createApp(s.t.engine, options).callback();
  const pair: Pair = { koa: await listenOn(app), lane: undefined as unknown as Server, handedOn: 0 };
  const counted: RequestHandler = (req, res) => {
    pair.handedOn++;
    return app(req, res);
  };
  pair.lane = await listenOn(withNarInfoFastLane(settingsFor(s.t.engine, options), counted));
  return pair;
}

/** Sends `head` (request line and headers, CRLF-separated, without the final blank line) and reads until the server closes. */
function raw(server: Server, head: string): Promise<string> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const parts: Buffer[] = [];
    socket.on("data", (d: Buffer) => parts.push(d));
    socket.on("error", reject);
    socket.on("end", () => resolve(Buffer.concat(parts).toString("latin1")));
    socket.write(`${head}\r\nConnection: close\r\n\r\n`);
  });
}

function withoutDate(response: string): string {
  return response.replace(/\r\nDate: [^\r]*/, "");
}

/** Both servers' answers to `head`, and whether the lane answered it itself. */
async function compare(pair: Pair, head: string): Promise<{ koa: string; lane: string; taken: boolean }> {
  const koa = await raw(pair.koa, head);
  const before = pair.handedOn;
  const lane = await raw(pair.lane, head);
  expect(koa).toMatch(/^HTTP\/1\.1 \d{3} /);
  expect(koa).toMatch(/\r\nDate: /);
  return { koa: withoutDate(koa), lane: withoutDate(lane), taken: pair.handedOn === before };
}

describe("narinfo fast lane", () => {
  let s: TestServer;
  let small: NarFixture;
  let large: NarFixture;
  const pairs: Pair[] = [];
  let plain: Pair;
  let restricted: Pair;
  let debugging: Pair;
  let pull: string;

  beforeAll(async () => {
    ({ small, large } = await standardFixtures("lane"));
    s = await startServer();
    const root = await s.token({ "*": ALL }, "root");
    pull = await s.token({ priv: { pull: true } });
    await createCacheHttp(s.url, root, "priv");
    await createCacheHttp(s.url, root, "pub", true);
    for (const cache of ["priv", "pub"]) {
      for (const f of [small, large]) expect((await uploadViaHeader(s.url, root, infoFor(f, cache), f.nar)).status).toBe(200);
    }
    const debugLogger: Logger = { ...noopLogger, isLevelEnabled: () => true };
    plain = await startPair(s, { logger: noopLogger });
    restricted = await startPair(s, { logger: noopLogger, allowedHosts: ["cache.example:8080"] });
    debugging = await startPair(s, { logger: debugLogger });
    pairs.push(plain, restricted, debugging);
  });

  afterAll(async () => {
    for (const p of pairs) await Promise.all([closeServer(p.koa), closeServer(p.lane)]);
    await s?.close();
  });

  const taken: Array<[string, () => string, number]> = [
    ["a public hit", () => `GET /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, 200],
    ["a public hit of a chunked NAR", () => `GET /pub/${large.hash}.narinfo HTTP/1.1\r\nHost: h`, 200],
    ["HEAD of a public hit", () => `HEAD /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, 200],
    ["a public miss", () => `GET /pub/${ABSENT}.narinfo HTTP/1.1\r\nHost: h`, 404],
    ["HEAD of a public miss", () => `HEAD /pub/${ABSENT}.narinfo HTTP/1.1\r\nHost: h`, 404],
    ["a private cache's path, anonymously", () => `GET /priv/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, 401],
    ["a cache that does not exist", () => `GET /nosuch/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, 401],
    ["an invalid store path hash", () => `GET /pub/not-a-hash.narinfo HTTP/1.1\r\nHost: h`, 404],
    ["two dots in the file name", () => `GET /pub/${small.hash}.x.narinfo HTTP/1.1\r\nHost: h`, 404],
    ["an invalid cache name", () => `GET /a~b/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, 400],
    ["HTTP/1.0 with a Host", () => `GET /pub/${small.hash}.narinfo HTTP/1.0\r\nHost: h`, 200],
  ];

  it.each(taken)("answers %s itself, as Koa does", async (_label, head, status) => {
    const { koa, lane, taken } = await compare(plain, head());
    expect(lane).toBe(koa);
    expect(koa.startsWith(`HTTP/1.1 ${status} `) || koa.startsWith(`HTTP/1.0 ${status} `)).toBe(true);
    expect(taken).toBe(true);
  });

  it("gives a hit its body, MIME type and public visibility", async () => {
    const { lane } = await compare(plain, `GET /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: h`);
    expect(lane).toMatch(/^HTTP\/1\.1 200 OK\r\nX-Attic-Cache-Visibility: public\r\nContent-Type: text\/x-nix-narinfo\r\nContent-Length: \d+\r\n/);
    expect(lane).toContain(`\r\n\r\nStorePath: ${small.path}\n`);
  });

  const handedOn: Array<[string, () => string, Pair | (() => Pair)]> = [
    ["a request with a token", () => `GET /priv/${small.hash}.narinfo HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${pull}`, () => plain],
    ["a request with a malformed Authorization header", () => `GET /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: h\r\nAuthorization: nonsense`, () => plain],
    ["a query string", () => `GET /pub/${small.hash}.narinfo?x=1 HTTP/1.1\r\nHost: h`, () => plain],
    ["a percent-encoded path", () => `GET /p%75b/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, () => plain],
    ["another method", () => `POST /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: h\r\nContent-Length: 0`, () => plain],
    ["another route", () => `GET /pub/nix-cache-info HTTP/1.1\r\nHost: h`, () => plain],
    ["HTTP/1.0 without a Host", () => `GET /pub/${small.hash}.narinfo HTTP/1.0`, () => plain],
    ["a Host outside allowed-hosts", () => `GET /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: other:8080`, () => restricted],
    ["any request while debug logging is on", () => `GET /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: h`, () => debugging],
  ];

  it.each(handedOn)("hands %s to Koa", async (_label, head, pair) => {
    const { koa, lane, taken } = await compare((pair as () => Pair)(), head());
    expect(lane).toBe(koa);
    expect(taken).toBe(false);
  });

  it("answers a Host inside allowed-hosts itself", async () => {
    const { koa, lane, taken } = await compare(restricted, `GET /pub/${small.hash}.narinfo HTTP/1.1\r\nHost: cache.example:8080`);
    expect(koa).toMatch(/^HTTP\/1\.1 200 /);
    expect(lane).toBe(koa);
    expect(taken).toBe(true);
  });

  it("hands a failure that maps to a 5xx to Koa, which answers Attic's 500", async () => {
    const broken = await startServer();
    try {
      const app = createApp(broken.t.engine, { logger: noopLogger }).callback();
      let handed = 0;
      const lane = await listenOn(
        withNarInfoFastLane(settingsFor(broken.t.engine, { logger: noopLogger }), (req, res) => {
          handed++;
          return app(req, res);
        }),
      );
      try {
        await broken.t.engine.database.close();
        const response = withoutDate(await raw(lane, `GET /pub/${ABSENT}.narinfo HTTP/1.1\r\nHost: h`));
        expect(response).toMatch(/^HTTP\/1\.1 500 /);
        expect(response).toContain('{"code":500,"error":"InternalServerError"');
        expect(handed).toBe(1);
      } finally {
        await closeServer(lane);
      }
    } finally {
      await broken.close().catch(() => {});
    }
  });
});
