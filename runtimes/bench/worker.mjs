// The throughput figures in workerd: POST the settings as JSON, get the figures back.
import { connect } from '@postwire/core/workers';
import { measureThroughput } from './throughput.mjs';

export default {
  async fetch(request) {
    try {
      return Response.json(await measureThroughput({ ...(await request.json()), connector: connect }));
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
