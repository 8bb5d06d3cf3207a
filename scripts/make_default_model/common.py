"""Constants shared by the default-model scripts."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, 'work')
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


def to_transcript(text):
    """'i had that' -> 'I|HAD|THAT' (label string)."""
    return '|'.join(text.upper().split())


def encode(text):
    return [CHAR2ID[c] for c in to_transcript(text)]
