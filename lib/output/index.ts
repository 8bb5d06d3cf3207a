/**
 * What the front ends write: transcript records and words as JSON, plain text, SubRip and WebVTT. One module so that
 * the CLI (--json), the HTTP routes (POST /v1/transcribe, the OpenAI route's formats), batch jobs (transcripts.jsonl,
 * .txt/.srt/.vtt files) and live streams (final events) write a word the same way: the same fields, the same
 * rounding, the same cues. Each of them used to write its own, and they drifted apart.
 */
export { seconds, probability, wordJson, wordsJson, transcriptJson, type TranscriptJson } from './json';
export { cues, toSrt, toTxt, toVtt, type Cue, type CueLimits } from './subtitles';
