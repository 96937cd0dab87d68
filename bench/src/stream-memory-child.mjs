// Child process of mime-stream-memory.ts, run by plain Node on the built packages so that nothing but
// the parser under test adds to the resident memory it reports (each parser is imported only when it
// is the one measured): parses a generated message of the given size, then sends its peak RSS to the parent.
const [parser, sizeText] = process.argv.slice(2);
const size = Number(sizeText);

/** About `size` bytes in chunks, never whole in memory: a text part and 100 MB base64 attachments. */
async function* generatedMessage() {
  const block = Buffer.alloc(57 * 1150);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7919 + (i >> 8)) & 0xff;
  const lines = Buffer.from(`${(block.toString('base64').match(/.{76}/g) ?? []).join('\r\n')}\r\n`, 'latin1');
  yield Buffer.from(
    'From: a@example.com\r\nTo: b@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nBig files.\r\n',
  );
  let written = 0;
  for (let part = 0; written < size; part++) {
    yield Buffer.from(
      `--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="f${part}.bin"\r\n` +
        'Content-Transfer-Encoding: base64\r\n\r\n',
    );
    for (let inPart = 0; inPart < 100_000_000 && written < size; inPart += lines.length) {
      yield lines;
      written += lines.length;
    }
  }
  yield Buffer.from('--b--\r\n');
}

// Resident memory is sampled rather than read from getrusage's maxrss: on Linux that high-water mark
// survives exec, so a child forked from a big parent would report the parent's size.
let peak = 0;
const sample = () => {
  peak = Math.max(peak, process.memoryUsage.rss());
};
const sampler = setInterval(sample, 10);

let decoded = 0;
if (parser === 'ours') {
  const { parseMessageStream } = await import('@postwire/mime');
  let events = 0;
  for await (const event of parseMessageStream(generatedMessage())) {
    if (event.type === 'body') decoded += event.data.length;
    if ((++events & 1023) === 0) sample();
  }
} else {
  const chunks = [];
  for await (const chunk of generatedMessage()) chunks.push(chunk);
  const whole = Buffer.concat(chunks);
  chunks.length = 0;
  sample();
  const options = { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true };
  const parsed =
    parser === 'postal-mime'
      ? await (await import('postal-mime')).default.parse(whole)
      : await (await import('mailparser')).simpleParser(whole, options);
  for (const attachment of parsed.attachments) {
    decoded += attachment.content.byteLength ?? attachment.content.length;
  }
}
sample();
clearInterval(sampler);
process.send?.({ peakRssMb: peak / 2 ** 20, decoded });
