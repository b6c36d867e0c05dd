#!/usr/bin/env node
// Fails when a constructor of an @injectable() class has a parameter without an explicit
// @inject(TOKEN). esbuild/oxc-based runners emit no decorator metadata, so tsyringe would
// silently inject `undefined` there.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const roots = process.argv.length > 2 ? process.argv.slice(2) : ["packages", "plugins", "examples"];

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) yield path;
  }
}

/** The text between the parenthesis at `open` and its match. */
function balanced(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return text.slice(open + 1, i);
  }
  return null;
}

function splitTopLevel(params) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < params.length; i++) {
    const c = params[i];
    if ("([{<".includes(c)) depth++;
    else if (")]}>".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(params.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(params.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

const problems = [];
for (const root of roots) {
  let files;
  try {
    files = [...sourceFiles(root)];
  } catch {
    continue;
  }
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const decorated = /@injectable\(\)\s*(?:export\s+)?class\s+(\w+)[^{]*\{/g;
    for (let m; (m = decorated.exec(text)); ) {
      const ctor = text.indexOf("constructor(", m.index);
      const nextClass = text.indexOf("class ", m.index + m[0].length);
      if (ctor < 0 || (nextClass >= 0 && ctor > nextClass)) continue;
      const params = balanced(text, ctor + "constructor".length);
      if (params === null) continue;
      for (const param of splitTopLevel(params)) {
        if (!param.startsWith("@inject(")) problems.push(`${file}: ${m[1]} constructor parameter without @inject(TOKEN): ${param.split("\n")[0]}`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("lint-inject: every @injectable() constructor parameter has an explicit @inject");
