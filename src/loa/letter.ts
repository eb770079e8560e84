/**
 * The Letter of Agency from Cloudflare's template (docs: "Letter of Agency"), filled in and laid out as a one-page
 * PDF with pdf-lib. Pure: the fields in, the PDF bytes out; no I/O. The letter still wants letterhead and a
 * signature (wet or clearly identified digital) before transit providers accept it; the bot says so in the thread.
 */
import { PDFDocument, StandardFonts } from 'pdf-lib';

export interface LoaFields {
  company: string;
  /** The prefixes Cloudflare may announce. */
  prefixes: string[];
  /** The originating ASN. */
  asn: number;
  signerName: string;
  signerTitle: string;
  /** The letter's date, YYYY-MM-DD. */
  date: string;
}

/** The template's lines, filled in (also what the PDF shows, one entry a line). */
export function loaLines(f: LoaFields): string[] {
  return [
    '[COMPANY LETTERHEAD]',
    '',
    'LETTER OF AGENCY ("LOA")',
    '',
    f.date,
    '',
    'To whom it may concern:',
    '',
    `${f.company} (the "Company") authorizes Cloudflare, Inc. with AS13335 to advertise the following`,
    'IP address blocks / originating ASNs:',
    '',
    '- - - - - - - - - - - - - - - - - - -',
    ...f.prefixes.map((p) => `${p}    AS${f.asn}`),
    '- - - - - - - - - - - - - - - - - - -',
    '',
    'As a representative of the Company that is the owner of the aforementioned IP address blocks /',
    "originating ASNs, I hereby declare that I am authorized to sign this LOA on the Company's behalf.",
    '',
    'Regards,',
    '',
    '',
    '______________________________',
    f.signerName,
    f.signerTitle,
    f.company,
  ];
}

/** WinAnsi (the standard fonts' encoding) cannot show every character: anything else becomes `?`. */
const winAnsi = (s: string) => s.replace(/[^\x20-\x7e\u00a0-\u00ff]/g, '?');

/** The filled LOA as PDF bytes. */
export async function buildLoaPdf(f: LoaFields): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(`Letter of Agency: ${winAnsi(f.company)}`);
  doc.setSubject(f.prefixes.join(', '));
  doc.setProducer('byoip-bot');
  doc.setCreationDate(new Date(`${f.date}T00:00:00Z`));
  doc.setModificationDate(new Date(`${f.date}T00:00:00Z`));
  const page = doc.addPage([595, 842]); // A4
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  let y = 780;
  for (const line of loaLines(f)) {
    const heading = line.startsWith('LETTER OF AGENCY');
    page.drawText(winAnsi(line), { x: 56, y, size: heading ? 14 : 10, font: heading ? bold : font });
    y -= heading ? 22 : 15;
  }
  return doc.save({ useObjectStreams: false });
}
