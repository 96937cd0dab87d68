// A message that exercises every rule of DKIM canonicalization, shared by the cross-checks.

/**
 * What canonicalization has to get right: folded fields (continuations with SP and HTAB), runs of white
 * space and trailing white space in fields and body lines, a field with no space after the colon and an
 * empty one, raw UTF-8 in a field (RFC 6532) and 8-bit UTF-8 in the body, a 990-octet line, an empty
 * line inside the body and several at its end.
 */
export const AWKWARD_LINES = [
  'Received: from mail.example.test (mail.example.test [192.0.2.1])',
  '\tby mx.example.org with ESMTPS; Mon, 01 Jan 2024 00:00:00 +0000',
  'From: "Alice Example" <alice@example.test>',
  'To: bob@example.org,',
  '  carol@example.org,\t',
  '\tdave@example.org',
  'Subject:   A folded\t subject   ',
  '   \t with a second line  ',
  'Date: Mon, 01 Jan 2024 00:00:00 +0000',
  'Message-ID:<awkward@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain;',
  '\tcharset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  'Cc:\tcarol@example.org\t ',
  'Reply-To:',
  'X-Unicode: café ☕ Grüße',
  '',
  'Grüße aus Köln — 8-bit UTF-8: 日本語, ✉️ 📬',
  'trailing spaces   ',
  'trailing tab\t',
  '\tleading tab and  double  spaces \t ',
  ' leading space',
  `long:\t${'0123456789 abcdefghij  '.repeat(43)}`.slice(0, 990),
  '',
  'a line after an empty line',
  '',
  '',
  '',
  '',
];
