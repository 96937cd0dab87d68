import { describe, expect, it } from 'vitest';
import { parseReceived } from '../../src/header/received.js';

describe('parseReceived', () => {
  it('reads a Postfix trace', () => {
    const received = parseReceived(
      'from mail-qw0-f46.google.com (mail-qw0-f46.google.com [209.85.216.46])\r\n' +
        '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n' +
        '\tby mx.example.net (Postfix) with ESMTPS id 70BCC40A1DB\r\n' +
        '\tfor <user@example.net>; Wed, 15 Jun 2011 10:42:13 -0400 (EDT)',
    );
    expect(received).toEqual({
      from: 'mail-qw0-f46.google.com',
      fromIp: '209.85.216.46',
      fromIpRev: 'mail-qw0-f46.google.com',
      tlsVersion: 'TLSv1_3',
      tlsCipher: 'TLS_AES_256_GCM_SHA384',
      by: 'mx.example.net',
      with: 'ESMTPS',
      id: '70BCC40A1DB',
      for: 'user@example.net',
      date: expect.objectContaining({ year: 2011, month: 6, day: 15, offsetMinutes: -240 }),
    });
  });

  it('reads HELO, ident and IP literals in the from comments', () => {
    expect(parseReceived('from x (HELO helo.example) (user@192.0.2.1) by y with SMTP')).toMatchObject({
      from: 'x',
      helo: 'helo.example',
      heloCommand: 'HELO',
      ident: 'user@192.0.2.1',
      by: 'y',
      with: 'SMTP',
    });
    expect(parseReceived('from [192.0.2.1]:2525 (EHLO [192.0.2.9]) by y')).toMatchObject({
      from: '192.0.2.1',
      helo: '192.0.2.9',
      heloCommand: 'EHLO',
    });
    expect(parseReceived('from a ([192.0.2.1] helo=h.example ident=joe) by b')).toMatchObject({
      fromIp: '192.0.2.1',
      helo: 'h.example',
      heloCommand: 'HELO',
      ident: 'joe',
    });
    expect(parseReceived('from a (IDENT:q@one.example [192.0.2.1]) by b')).toMatchObject({
      ident: 'q@one.example',
      fromIp: '192.0.2.1',
    });
    expect(parseReceived('from a (u@[192.0.2.1]) by b')).toMatchObject({ ident: 'u', fromIp: '192.0.2.1' });
    expect(parseReceived('from a (LHLO) by b').heloCommand).toBe('LHLO');
  });

  it('writes IP addresses canonically', () => {
    expect(parseReceived('from a (b [IPv6:2001:DB8:0:0:0:0:0:1]) by c').fromIp).toBe('2001:db8::1');
    expect(parseReceived('from a ([fe80::1%6]) by c').fromIp).toBe('fe80::1');
    expect(parseReceived('from a ([::ffff:127.0.0.1]) by c').fromIp).toBe('::ffff:127.0.0.1');
    expect(parseReceived('from a ([300.1.1.1]) by c').fromIp).toBeUndefined();
    expect(parseReceived('from a ([1:2:3:4:5:6:7:8:9]) by c').fromIp).toBeUndefined();
    expect(parseReceived('from a [(192.0.2.1)] by c').fromIp).toBe('192.0.2.1');
  });

  it('maps with-protocols', () => {
    const withOf = (text: string) => parseReceived(`from a by b with ${text}`).with;
    expect(withOf('esmtpsa')).toBe('ESMTPSA');
    expect(withOf('local')).toBe('Local');
    expect(withOf('local-esmtps')).toBe('ESMTPS');
    expect(withOf('ESMTP-TLS')).toBe('ESMTPS');
    expect(withOf('Microsoft SMTPSVC(6.0)')).toBe('SMTP');
    expect(withOf('[XMail 1.20 ESMTP Server] id x')).toBe('ESMTP');
    expect(withOf('mapi id 15')).toBeUndefined();
    expect(withOf('Thrift')).toBeUndefined();
    expect(parseReceived('from a by b with ESMTP/TLS/DHE-RSA-AES256-GCM-SHA384').tlsCipher).toBe(
      'DHE-RSA-AES256-GCM-SHA384',
    );
  });

  it('reads TLS comments in their various dialects', () => {
    const tls = (comment: string) => {
      const { tlsVersion, tlsCipher } = parseReceived(`from a by b with esmtps ${comment} id x`);
      return [tlsVersion, tlsCipher];
    };
    expect(tls('(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)')).toEqual([
      'TLSv1_2',
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    ]);
    expect(tls('(TLS-1.0:DHE_RSA_3DES_EDE_CBC_SHA:24)')).toEqual(['TLSv1_0', 'DHE_RSA_3DES_EDE_CBC_SHA']);
    expect(tls('(version=TLSv1/SSLv3 cipher=OTHER)')).toEqual(['TLSv1_0', undefined]);
    expect(tls('(SSLv3:RC4-MD5-X:128)')).toEqual(['SSLv3', 'RC4-MD5-X']);
  });

  it('a leading (from …) comment is the from clause', () => {
    expect(
      parseReceived('(from u@localhost) by host.example id 1; Fri, 10 Dec 2004 13:17:27 +0000'),
    ).toMatchObject({
      from: 'u@localhost',
      by: 'host.example',
      id: '1',
    });
    expect(parseReceived('(qmail 1 invoked by uid 225); 14 Mar 2003 07:24:34 -0000')).toEqual({
      date: expect.objectContaining({ year: 2003 }),
    });
  });

  it('takes the date after the last semicolon only', () => {
    expect(parseReceived('from a by b id x Thu, 20 Feb 2003 16:13:20 -0700').date).toBeUndefined();
    expect(parseReceived('with X (v1; list); Fri, 18 Aug 2006 07:19:58 +0000').date?.year).toBe(2006);
    expect(parseReceived('from a; 14:47:44 +0000').date).toBeUndefined();
  });

  it('ignores a for clause that is not an address', () => {
    expect(parseReceived('from a by b for <address>').for).toBeUndefined();
  });

  it('runs in linear time on hostile input', () => {
    expect(parseReceived('from '.repeat(200_000)).from).toBeUndefined();
    expect(parseReceived(`from a (${'('.repeat(100_000)}`).from).toBe('a');
    expect(parseReceived(`from [${'1'.repeat(1_000_000)}`).from).toBeDefined();
    expect(parseReceived(`x (${'TLS1.2 '.repeat(100_000)})`).tlsVersion).toBe('TLSv1_2');
  });
});
