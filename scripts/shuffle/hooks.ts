/**
 * Module resolution hook (node:module register): a test file's `import … from 'node:test'`
 * resolves to ./node-test.js, which registers the file's top-level tests in a shuffled order.
 * node-test.js itself gets the real module.
 */
const SHIM = new URL('./node-test.js', import.meta.url).href;

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  if ((specifier === 'node:test' || specifier === 'test') && context.parentURL !== SHIM && context.parentURL?.includes('/test/')) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}
