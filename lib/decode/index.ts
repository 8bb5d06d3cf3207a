/** Emissions to text and time: greedy and beam-search CTC decoding, language models, forced alignment. */
export type { CTCResult, Word, TokenSpan, FrameSpan } from './result';
export { GreedyCTCDecoder, type GreedyCTCDecoderOptions, type GreedyCTCResult } from './greedy';
export { CTCBeamSearchDecoder, type CTCBeamSearchDecoderOptions, type CTCHypothesis, type CTCBeamSearchResult } from './beam';
export { Lexicon, spellWord, type LexiconEntry } from './lexicon';
export { NGramLanguageModel, type LanguageModel } from './lm';
export { DEFAULT_HOTWORD_WEIGHT, type Hotwords } from './hotwords';
export { frameToSeconds, DEFAULT_TIME_BASE, type TimeBase } from './timestamps';
export { forcedAlign, forcedAlignBatch, tokenize, type ForcedAlignOptions, type ForcedAlignment } from './align';
