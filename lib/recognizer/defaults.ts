/** Defaults the CLI shares with the Recognizer, in a module of their own so that the CLI can show them without loading it. */

/**
 * Default maxBatchSeconds. Measured on the bench:serve load (16 clients, clips of 1-15 s, default model, 2 cores, AMD
 * EPYC with AVX-512; 25 s runs): a cap of 120 s answered 403 audio-s/s at p99 816 ms, 60 s 452 at 580 ms, 32 s 475 at
 * 467 ms, 16 s 466 at 416 ms; one replica of 2 threads: 120 s 296 at 885 ms, 32 s 343 at 638 ms. Short clips still
 * fill batches of 8 (8 × 4 s), where batching pays most.
 */
export const DEFAULT_MAX_BATCH_SECONDS = 32;
