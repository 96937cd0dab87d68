// `pnpm bench:store`: the store rows alone, printed as a Markdown table; docs/benchmarks.md is left as it is.
import { renderTable } from './report.js';
import { storeSuite } from './store.js';

process.stdout.write(`${renderTable(await storeSuite()).join('\n')}\n`);
