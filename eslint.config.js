// Type-aware lint: the rules that catch real bugs in async, process-heavy code
// (floating promises, misused promises) matter more here than style, which Prettier owns.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const nodeGlobals = Object.fromEntries(
  [
    "process",
    "console",
    "Buffer",
    "URL",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "performance",
    "fetch",
    "AbortController",
    "AbortSignal",
    "TextDecoder",
    "TextEncoder",
    "queueMicrotask",
  ].map((g) => [g, "readonly"]),
);
const browserGlobals = Object.fromEntries(
  [
    "window",
    "document",
    "console",
    "fetch",
    "sessionStorage",
    "localStorage",
    "location",
    "URL",
    "URLSearchParams",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "navigator",
    "Headers",
    "AbortController",
    "Event",
    "HTMLElement",
    "alert",
    "confirm",
    "history",
    "requestAnimationFrame",
  ].map((g) => [g, "readonly"]),
);

export default tseslint.config(
  {
    ignores: [
      "dist/",
      "native/build/",
      "node_modules/",
      "coverage/",
      "web/dist/",
      "bench/results/",
      "test/fixtures/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "*.mjs", "bench/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      "no-console": "off",
    },
  },
  {
    // One door to child processes (architecture.md, convention 3): only util/process.ts spawns.
    files: ["src/**/*.ts"],
    ignores: ["src/util/process.ts", "src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["node:child_process", "child_process"].map((name) => ({
            name,
            allowTypeImports: true,
            message: "start child processes through src/util/process.ts (runProcess, or spawnDetached)",
          })),
        },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs", "**/*.cjs"], ...tseslint.configs.disableTypeChecked },
  {
    files: ["bench/**/*.mjs", "scripts/**/*.mjs", "*.js", "test/**/*.mjs"],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ["*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { ...nodeGlobals, module: "writable", require: "readonly" },
    },
  },
  {
    files: ["web/**/*.js"],
    languageOptions: { globals: browserGlobals },
  },
);
