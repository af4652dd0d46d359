/**
 * Run the suite against any registry by hand:
 *   node dist/test/conformance/distribution/cli.js http://127.0.0.1:5000 [--ca ca.pem] [--user u:p] [--category Pull] [--json]
 * Exits 1 when a check fails.
 */
import { readFileSync } from 'node:fs';
import { runConformance, formatTable, formatDetails, summary, type Category } from './index.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const url = args.find((a) => /^https?:\/\//.test(a));
  if (!url) {
    console.error('usage: cli.js http(s)://HOST:PORT [--ca FILE] [--user USER:PASS] [--category NAME]... [--json]');
    process.exit(2);
  }
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const categories = args.flatMap((a, i) => (a === '--category' ? [args[i + 1] as Category] : []));
  const user = opt('--user');
  const ca = opt('--ca');
  const results = await runConformance(
    {
      name: url,
      url,
      ca: ca ? readFileSync(ca, 'utf8') : undefined,
      auth: user ? { username: user.slice(0, user.indexOf(':')), password: user.slice(user.indexOf(':') + 1) } : undefined,
    },
    { categories: categories.length ? categories : undefined },
  );
  if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(formatTable([{ name: url, results }]));
    console.log(formatDetails('', results));
    console.log(summary(results));
  }
  process.exitCode = results.some((r) => r.status === 'fail') ? 1 : 0;
}

void main();
