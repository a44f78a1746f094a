/**
 * HTML to text for `normalize.strip_html`: tags out, entities decoded, text kept. Script, style and
 * comments go with their content; block-level tags become line breaks so paragraphs stay apart.
 * Deliberately small: prep input is scraped text with stray markup, not documents to render.
 */
const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', trade: '™',
  hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«',
  raquo: '»', middot: '·', bull: '•', deg: '°', euro: '€', pound: '£', yen: '¥', cent: '¢', sect: '§',
  para: '¶', times: '×', divide: '÷', eacute: 'é', egrave: 'è', agrave: 'à', aacute: 'á', ccedil: 'ç',
  ouml: 'ö', uuml: 'ü', auml: 'ä', szlig: 'ß', ntilde: 'ñ', iacute: 'í', oacute: 'ó', uacute: 'ú',
};

const BLOCK = /^(p|div|br|li|ul|ol|tr|table|h[1-6]|section|article|header|footer|blockquote|pre|hr)$/i;

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z][a-z0-9]{1,31});/gi, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : '';
    }
    return NAMED[body.toLowerCase()] ?? m;
  });
}

export function stripHtml(s: string): string {
  if (!s.includes('<') && !s.includes('&')) return s;
  const noBlocks = s
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|noscript|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '');
  const noTags = noBlocks.replace(/<\/?([a-zA-Z][a-zA-Z0-9-]*)\b[^<>]*>/g, (_m, tag: string) => (BLOCK.test(tag) ? '\n' : ''));
  return decodeEntities(noTags);
}
