/**
 * The one shape of a decoded utterance, shared by the greedy decoder, the beam search and forced alignment, and
 * carried unchanged to every front end (transcribe(), the Recognizer, the CLI, the HTTP routes, batch records, live
 * streams): words and tokens in seconds, frame indices only where the caller asked for them (`frames: true`).
 * One shape so that no front end translates between decoders, and a word means the same thing wherever it is read.
 */

/** Frame indices of a word or token, on the emission the decoder was given. Set only with the decoder's `frames: true`. */
export interface FrameSpan {
  /** First frame (inclusive): the frame torchaudio reports as a token's timestep. */
  startFrame?: number;
  /** Last frame + 1 (exclusive). */
  endFrame?: number;
}

/**
 * One word. Times are seconds from the start of the emission (frame f starts at f × frameStride / sampleRate);
 * front ends that cut audio into pieces (batch jobs, live streams) shift them to the start of the file or stream.
 */
export interface Word extends FrameSpan {
  word: string;
  /** Start of its first token's first frame, in seconds. */
  start: number;
  /** End of its last token's last frame, in seconds (the silence closing a lexicon spelling is not part of the word). */
  end: number;
  /**
   * In [0, 1]: the frame-weighted mean of its tokens' confidences, each the mean softmax probability of the token's
   * label over the frames of its run (the torchaudio alignment tutorial's word score).
   */
  confidence: number;
}

/** One emitted token: the run of frames its label holds on the path the decoder chose. */
export interface TokenSpan extends FrameSpan {
  /** Label index. */
  token: number;
  label: string;
  /** Seconds, as a word's. */
  start: number;
  end: number;
  /** Mean softmax probability of this label over its frames, in [0, 1]. */
  confidence: number;
}

/** What every decoder returns for one utterance (greedy adds its path and confidence; beam search its scores). */
export interface CTCResult {
  /** Words joined by single spaces: "I HAD THAT ...". */
  text: string;
  /** Labels of the output joined as they are: "I|HAD|THAT|...|" (what torchaudio's tutorial prints). */
  transcript: string;
  /** Greedy and forced alignment: the runs between word delimiters; beam search: lexicon words (with a lexicon). */
  words: Word[];
  /** Label index per emitted token (blanks removed, repeats collapsed, word delimiters kept). */
  indices: number[];
  /** One span per emitted token, in the order of `indices`. */
  tokens: TokenSpan[];
}
