import type Router from "@koa/router";
import type { AtticState } from "../http/host-context.ts";

/** What `GET /` shows a browser (Attic serves a static placeholder page). */
const PLACEHOLDER = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Attic Binary Cache</title>
<style>body { font-family: monospace; margin: 3em auto; max-width: 40em; } pre { line-height: 1.2; }</style>
</head>
<body>
<pre>
     ____________________
    |  ________________  |
    | |                | |
    | | $ attic push   | |
    | | _              | |
    | |________________| |
    |____________________|
   /  ::::::::::::::::::  \\
  /________________________\\
</pre>
<p>This is an Attic-compatible Nix binary cache (attic-ts).</p>
</body>
</html>
`;

/** GET (and HEAD) `/`: a static HTML placeholder. */
export function registerRoot(router: Router<AtticState>): void {
  router.get("/", (ctx) => {
    ctx.status = 200;
    ctx.set("Content-Type", "text/html; charset=utf-8");
    ctx.body = PLACEHOLDER;
  });
}
