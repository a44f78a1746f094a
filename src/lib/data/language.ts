/**
 * A small stop-word language guesser for `quality.language`. Scraped corpora are filtered for
 * their main language, where the most frequent function words decide reliably on documents of
 * a few dozen words; it needs no model download and costs one pass over the words. Languages
 * it does not know are reported as "und" (undetermined), which a language filter rejects.
 */
const STOP: Record<string, string[]> = {
  en: ['the', 'and', 'of', 'to', 'is', 'in', 'that', 'it', 'for', 'was', 'with', 'you', 'are', 'this', 'on', 'be', 'have', 'not'],
  de: ['der', 'die', 'und', 'das', 'ist', 'nicht', 'ein', 'eine', 'zu', 'den', 'mit', 'sich', 'auf', 'dem', 'ich', 'es', 'auch', 'von'],
  fr: ['le', 'la', 'les', 'et', 'est', 'un', 'une', 'des', 'du', 'que', 'pas', 'pour', 'dans', 'qui', 'sur', 'il', 'ne', 'au'],
  es: ['el', 'la', 'los', 'las', 'y', 'es', 'que', 'de', 'en', 'un', 'una', 'por', 'con', 'para', 'no', 'se', 'del', 'al'],
  it: ['il', 'lo', 'la', 'gli', 'le', 'e', 'che', 'di', 'un', 'una', 'per', 'non', 'sono', 'con', 'del', 'della', 'è', 'nel'],
  pt: ['o', 'os', 'as', 'e', 'que', 'de', 'um', 'uma', 'não', 'para', 'com', 'por', 'do', 'da', 'em', 'se', 'dos', 'é'],
  nl: ['de', 'het', 'een', 'en', 'van', 'is', 'niet', 'dat', 'op', 'te', 'zijn', 'met', 'voor', 'ik', 'je', 'die', 'er', 'maar'],
};

const INDEX = new Map<string, string[]>();
for (const [lang, words] of Object.entries(STOP)) for (const w of words) INDEX.set(w, [...(INDEX.get(w) ?? []), lang]);

export function detectLanguage(text: string): {lang: string; score: number} {
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  if (words.length === 0) return {lang: 'und', score: 0};
  const hits: Record<string, number> = {};
  const n = Math.min(words.length, 400);
  for (let i = 0; i < n; i++) for (const l of INDEX.get(words[i]!) ?? []) hits[l] = (hits[l] ?? 0) + 1;
  let best = 'und';
  let bestHits = 0;
  for (const [l, h] of Object.entries(hits)) if (h > bestHits) [best, bestHits] = [l, h];
  const score = Math.round((bestHits / n) * 1000) / 1000;
  // Below 5% stop words the text is either very short, a list, or in a language not listed.
  return score < 0.05 && n >= 10 ? {lang: 'und', score} : {lang: bestHits === 0 ? 'und' : best, score};
}
