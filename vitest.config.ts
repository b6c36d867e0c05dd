import { defineConfig } from "vitest/config";

// Tests import workspace packages through the "source" export condition, so they run against
// the TypeScript sources without a build step.
// Legacy (experimentalDecorators) decorators, as tsc compiles them; no metadata is emitted, which
// is why every constructor parameter carries an explicit @inject(TOKEN).
const shared = {
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: false } },
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
};

export default defineConfig({
  test: {
    // In CI, dots and then only the failures, so a failure is not lost in a clipped log. The
    // watchdog names any test file still running after a few minutes (see the file).
    reporters: [process.env.CI ? "dot" : "default", "./test/setup/watchdog-reporter.ts"],
    projects: [
      {
        ...shared,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "plugins/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
          exclude: ["**/*.services.test.ts", "**/node_modules/**"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        ...shared,
        test: {
          name: "e2e",
          include: ["packages/*/test/**/*.services.test.ts", "plugins/*/test/**/*.services.test.ts", "test/**/*.test.ts"],
          exclude: ["**/node_modules/**"],
          globalSetup: ["test/setup/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
