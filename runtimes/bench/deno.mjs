// The throughput figures on Deno: `deno run --allow-net --allow-read deno.mjs <settings.json>`.
import { connect } from '@postwire/core/deno';
import { measureThroughput } from './throughput.mjs';

const settings = JSON.parse(await Deno.readTextFile(Deno.args[0]));
console.log(JSON.stringify(await measureThroughput({ ...settings, connector: connect })));
