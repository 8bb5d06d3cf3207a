/**
 * Plain text, SubRip (.srt) and WebVTT (.vtt) from timed words. Cues follow common subtitle guidance: at most 42
 * characters and 7 seconds, and a new cue after a pause of a second or more (a pause is where a reader expects
 * the text to change).
 */
import type { Word } from '../decode';

export interface Cue {
  start: number;
  end: number;
  text: string;
}

export interface CueLimits {
  maxChars: number;
  maxSeconds: number;
  /** A gap between words this long or longer starts a new cue. */
  pauseSeconds: number;
}

const SUBTITLES: CueLimits = { maxChars: 42, maxSeconds: 7, pauseSeconds: 1 };

/** Words grouped into cues (by default a subtitle's; the OpenAI route's segments use other limits). */
export function cues(words: readonly Word[], limits: CueLimits = SUBTITLES): Cue[] {
  const out: Cue[] = [];
  let cur: Cue | null = null;
  for (const w of words) {
    if (cur && (cur.text.length + 1 + w.word.length > limits.maxChars || w.end - cur.start > limits.maxSeconds || w.start - cur.end >= limits.pauseSeconds)) {
      out.push(cur);
      cur = null;
    }
    if (cur) {
      cur.text += ' ' + w.word;
      cur.end = w.end;
    } else {
      cur = { start: w.start, end: w.end, text: w.word };
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** hh:mm:ss,mmm (SRT) or hh:mm:ss.mmm (WebVTT). */
function clock(seconds: number, sep: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3600000);
  const m = Math.floor(ms / 60000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

export function toSrt(words: readonly Word[]): string {
  return cues(words).map((c, i) => `${i + 1}\n${clock(c.start, ',')} --> ${clock(c.end, ',')}\n${c.text}\n`).join('\n');
}

export function toVtt(words: readonly Word[]): string {
  return 'WEBVTT\n\n' + cues(words).map((c) => `${clock(c.start, '.')} --> ${clock(c.end, '.')}\n${c.text}\n`).join('\n');
}

export function toTxt(text: string): string {
  return text + '\n';
}
