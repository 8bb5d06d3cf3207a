"""Constants shared by the default-model scripts."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
# DEFAULT_MODEL_WORK: another data folder (the second generation's audio is in work/gen2), read by every stage
WORK = os.environ.get('DEFAULT_MODEL_WORK', os.path.join(HERE, 'work'))
TEXT = os.path.join(HERE, 'text')

SEED = 20261129
SAMPLE_RATE = 16000

# torchaudio WAV2VEC2_ASR_BASE_960H labels, in order; 0 = CTC blank, '|' = word delimiter
LABELS = ['-', '|', 'E', 'T', 'A', 'O', 'N', 'I', 'H', 'S', 'R', 'D', 'L', 'U', 'M', 'W', 'C', 'F', 'G', 'Y', 'P',
          'B', 'V', 'K', "'", 'X', 'J', 'Q', 'Z']
CHAR2ID = {c: i for i, c in enumerate(LABELS)}

# The demonstration sentence: never in the training (or held-out) text as a sentence.
DEMO_SENTENCE = 'I HAD THAT CURIOSITY BESIDE ME AT THIS MOMENT'

# espeak-ng 1.51 English voices (the gmw/ ones; the mb/ MBROLA voices need extra packages) ...
ACCENTS = ['en', 'en-us', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp', 'en-gb-x-gbcwmd', 'en-029', 'en-us-nyc']
# ... and its voice variants (espeak-ng-data/voices/!v), all but 'Mr serious' whose name has a space
VARIANTS = """Alex Alicia Andrea Andy Annie AnxiousAndy Demonic Denis Diogo Gene Gene2 Henrique Hugo Jacky Lee
Marco Mario Michael Mike Nguyen RicishayMax RicishayMax2 RicishayMax3 Storm Tweaky UniRobot adam anika anikaRobot
announcer antonio aunty belinda benjamin boris caleb croak david ed edward edward2 f1 f2 f3 f4 f5 fast grandma
grandpa gustave iven iven2 iven3 iven4 john kaukovalta klatt klatt2 klatt3 klatt4 klatt5 klatt6 linda m1 m2 m3 m4
m5 m6 m7 m8 marcelo max michel miguel norbert pablo paul pedro quincy rob robert robosoft robosoft2 robosoft3
robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 sandro shelby steph steph2 steph3 travis victor whisper whisperf
zac""".split()
# Held out of training entirely (every accent): the 'unseen voice' subsets use only these.
HELDOUT_VARIANTS = ['f4', 'm6']
TRAIN_VARIANTS = [v for v in VARIANTS if v not in HELDOUT_VARIANTS]


# The second generation's voices (issue #27). A voice SOURCE is the speaker (or, for espeak-ng, the rule set) behind a
# voice, whatever package plays it: flite and festival both play the CMU kal diphones and the CMU ARCTIC slt
# recordings, so voices are held out by source. Each source: its voices as (engine, voice), its Debian packages,
# the licence of what makes the sound (from /usr/share/doc/PACKAGE/copyright), and its share of the training
# utterances (espeak-ng keeps the largest, for the first generation's held-out set). Non-commercial voices
# (MBROLA's, RHVoice's) are not here: their licences do not allow shipping a model trained on their output.
VOICE_SOURCES = {
    'espeak-ng': dict(voices=[('espeak-ng', f'{a}+{v}') for a in ACCENTS for v in TRAIN_VARIANTS],
                      packages='espeak-ng, espeak-ng-data 1.51', licence='GPL-3+ (rule-based formant synthesis)',
                      share=0.30),
    'kal': dict(voices=[('flite', 'kal'), ('flite', 'kal16'), ('festival', 'kal_diphone')],
                packages='flite 2.2, festvox-kallpc16k', licence='CMU flite licence (BSD-like); kal diphones: '
                'Alan W Black and Kevin Lenzo, free licence (use, modify, sell; keep the notice)', share=0.12),
    'slt': dict(voices=[('flite', 'slt'), ('festival', 'cmu_us_slt_arctic_hts')],
                packages='flite 2.2, festvox-us-slt-hts', licence='CMU ARCTIC slt: CMU licence (BSD-like); HTS voice: '
                'EST-2000/EST-2003/BSD-3-clause', share=0.12),
    'awb': dict(voices=[('flite', 'awb')], packages='flite 2.2', licence='CMU ARCTIC awb: CMU flite licence (BSD-like)',
                share=0.12),
    'rms': dict(voices=[('flite', 'rms')], packages='flite 2.2', licence='CMU ARCTIC rms: CMU flite licence (BSD-like)',
                share=0.12),
    'pico-en-US': dict(voices=[('pico', 'en-US')], packages='libttspico-utils, libttspico-data (non-free section)',
                       licence='Apache-2.0 (SVOX AG; the language files are claimed Apache-2.0 without their '
                       'sources, hence non-free in Debian; redistributable)', share=0.11),
    'pico-en-GB': dict(voices=[('pico', 'en-GB')], packages='libttspico-utils, libttspico-data (non-free section)',
                       licence='Apache-2.0 (as pico-en-US)', share=0.11),
    # held out: never heard in training (HELDOUT_SOURCE)
    'ked': dict(voices=[('festival', 'ked_diphone')], packages="festival 2.5.0, festvox-kdlpc16k 1.4.0",
                licence='CSTR, University of Edinburgh, free licence (use, modify, sell; keep the notice)', share=0),
}
# ked, a US male diphone voice that only festival plays: its engine (festival) and its technique (diphones, like
# kal) stay in training, so its held-out subsets measure a new speaker, not a new synthesizer
HELDOUT_SOURCE = 'ked'
TRAIN_SOURCES = [s for s in VOICE_SOURCES if s != HELDOUT_SOURCE]


def to_transcript(text):
    """'i had that' -> 'I|HAD|THAT' (label string)."""
    return '|'.join(text.upper().split())


def encode(text):
    return [CHAR2ID[c] for c in to_transcript(text)]
