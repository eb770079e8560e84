import { inflateSync } from 'node:zlib';
import { PDFArray, PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { buildLoaPdf, loaLines } from '../../src/loa/letter.js';

const fields = { company: 'Example Networks Ltd', prefixes: ['192.0.2.0/24'], asn: 13335, signerName: 'Dana Scully', signerTitle: 'Head of Network', date: '2026-12-02' };

/** The page's text as drawn: its content stream inflated, the hex strings decoded. */
async function pageText(bytes: Uint8Array): Promise<string> {
  const doc = await PDFDocument.load(bytes);
  const contents = doc.getPages()[0]!.node.Contents()!;
  const streams = contents instanceof PDFArray ? contents.asArray().map((r) => doc.context.lookup(r)) : [contents];
  const text = streams
    .filter((st): st is PDFRawStream => st instanceof PDFRawStream)
    .map((st) => {
      const raw = Buffer.from(st.getContents());
      return (st.dict.get(PDFName.of('Filter')) ? inflateSync(raw) : raw).toString('latin1');
    })
    .join('\n');
  return [...text.matchAll(/<([0-9A-Fa-f]+)>\s*Tj/g)].map((m) => Buffer.from(m[1]!, 'hex').toString('latin1')).join('\n');
}

describe('the LOA PDF (the docs template, filled)', () => {
  it('is a PDF pdf-lib can load, one page, with every field in its text', async () => {
    const bytes = await buildLoaPdf(fields);
    expect(Buffer.from(bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
    const doc = await PDFDocument.load(bytes);
    expect(doc.getPageCount()).toBe(1);
    expect(doc.getTitle()).toContain('Example Networks Ltd');
    const text = await pageText(bytes);
    expect(text).toContain('Example Networks Ltd (the "Company") authorizes Cloudflare, Inc. with AS13335');
    expect(text).toContain('192.0.2.0/24    AS13335');
    expect(text).toContain('Dana Scully');
    expect(text).toContain('Head of Network');
    expect(text).toContain('2026-12-02');
    expect(text).toContain('LETTER OF AGENCY');
  });

  it('lists every prefix with its ASN and survives characters the standard font lacks', async () => {
    expect(loaLines({ ...fields, prefixes: ['192.0.2.0/24', '2001:db8::/48'] })).toEqual(expect.arrayContaining(['192.0.2.0/24    AS13335', '2001:db8::/48    AS13335']));
    const text = await pageText(await buildLoaPdf({ ...fields, company: 'Łódź Net 网络' }));
    expect(text).toContain('?');
  });
});
