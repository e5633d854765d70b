// The parser (chevrotain 13) needs Object.groupBy: Node 21+ and the browsers
// of 2024 on. On an older runtime, importing pipec would die inside
// chevrotain with `Object.groupBy is not a function`; this module is
// imported first by every module that loads chevrotain, so it fails before,
// saying what to install. pipec as a whole targets Node >= 22.18 (engines).

const nodeVersion = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

if (typeof (Object as { groupBy?: unknown }).groupBy !== 'function') {
  throw new Error(nodeVersion === undefined
    ? 'pipec needs a JavaScript runtime with Object.groupBy (a browser from 2024 on, or Node >= 22.18)'
    : `pipec needs Node >= 22.18, and this is Node ${nodeVersion}. Install Node 22 or newer (for example with a version manager: \`nvm install 22\`), ` +
      'or run the script with the Node that npm installs: `npx --yes -p node@22 node your-script.js`.');
}

export {};
