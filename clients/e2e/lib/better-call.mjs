// better-call's own signCookieValue, from the copy installed with better-auth. The package does not
// export it by name (only serializeSignedCookie, which calls it), so it is loaded from its module
// file next to the package entry point.
import { readFile } from 'node:fs/promises';

const entry = import.meta.resolve('better-call');
const pkg = JSON.parse(await readFile(new URL('../package.json', entry), 'utf8'));
const betterAuthPkg = JSON.parse(
  await readFile(new URL('../package.json', import.meta.resolve('better-auth')), 'utf8'),
);
if (pkg.version !== betterAuthPkg.dependencies['better-call']) {
  throw new Error(
    `better-call ${pkg.version} is not the one better-auth pins (${betterAuthPkg.dependencies['better-call']})`,
  );
}

export const { signCookieValue } = await import(new URL('./crypto.mjs', entry).href);
