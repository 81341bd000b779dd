// Solidity standard-JSON compiler front end for cluster.chain.compile: reads the input JSON on stdin, resolves
// imports from node_modules (OpenZeppelin), writes the output JSON to stdout. solc is the npm package (solcjs).
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..");
function findImports(importPath) {
  for (const base of [path.join(root, "node_modules"), root]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `not found: ${importPath}` };
}

if (process.argv[2] === "--version") {
  process.stdout.write(solc.version());
} else {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImports }));
}
