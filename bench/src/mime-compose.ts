import { composeMessage } from '@postwire/mime';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { compareThroughput } from './measure.js';
import type { Row } from './report.js';

/** The same message for both composers: text, HTML with an inline image, and two attachments. */
function sample() {
  const text = 'Hello,\n\nthe quarterly figures are attached. Grüße aus Köln!\n'.repeat(200);
  const html = `<html><body>${'<p>The quarterly figures are attached. Grüße aus Köln!</p>\n'.repeat(200)}<img src="cid:logo@example.com"></body></html>`;
  const binary = (size: number, seed: number) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 2654435761 + seed) >>> 24;
    return bytes;
  };
  return {
    from: '"Ann Example" <ann@example.com>',
    to: 'Bob Müller <bob@example.org>, carol@example.net',
    subject: 'Quarterly figures — Q3 2026 für das Team',
    text,
    html,
    logo: binary(20_000, 1),
    attachments: [
      { filename: 'figures.pdf', content: binary(1_000_000, 2) },
      {
        filename: 'übersicht.csv',
        content: Buffer.from('quarter,revenue\nQ1,100\nQ2,120\nQ3,140\n'.repeat(2000)),
      },
    ],
  };
}

/** Compose throughput, in MB of message written per second, against nodemailer's MailComposer. */
export async function mimeComposeSuite(): Promise<Row[]> {
  const message = sample();
  const { from, to, subject, text, html } = message;
  const common = { from, to, subject, text, html, date: new Date('2026-11-24T10:00:00Z') };
  const ours = () =>
    composeMessage({
      ...common,
      attachments: [
        { content: message.logo, filename: 'logo.png', contentId: 'logo@example.com' },
        ...message.attachments.map((a) => ({ content: a.content, filename: a.filename })),
      ],
    }).bytes();
  const nodemailer = () =>
    new MailComposer({
      ...common,
      attachments: [
        { content: message.logo, filename: 'logo.png', cid: 'logo@example.com' },
        ...message.attachments.map((a) => ({ content: a.content, filename: a.filename })),
      ],
    })
      .compile()
      .build();
  const bytes = (await ours()).length;
  const { ours: figure, ...peers } = await compareThroughput(
    {
      ours: { bytes, run: ours },
      "nodemailer's MailComposer": { bytes, run: nodemailer },
    },
    { warmup: 3, rounds: 15 },
  );
  return [
    {
      workload: `Compose a ${(bytes / 1e6).toFixed(1)} MB message (text, HTML, inline image, two attachments)`,
      unit: 'MB/s',
      ours: figure,
      peers,
    },
  ];
}
