// The throughput figures on Bun: `bun bun.mjs <settings.json>`.
import { connect } from '@postwire/core/bun';
import { measureThroughput } from './throughput.mjs';

const settings = await Bun.file(process.argv[2]).json();
console.log(JSON.stringify(await measureThroughput({ ...settings, connector: connect })));
