"""Prose -> the model's labels: spoken-form words over A-Z and the apostrophe, lower case ('I' capital).

Numbers are spelt out (cardinals, ordinals like 21st, years like 1984 as a speaker reads them, decimals digit by
digit), a few abbreviations that every synthesizer expands are expanded the same way here (otherwise the audio
would say 'mister' where the label says 'mr'), hyphens and slashes split words, other punctuation is dropped. A
sentence that still holds anything else (symbols, letters outside A-Z once accents are stripped, Roman numerals,
ambiguous abbreviations) is rejected (None) rather than guessed at: the label must be what the synthesizers say.
"""
import re
import unicodedata

ONES = ('zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen '
        'seventeen eighteen nineteen').split()
TENS = 'zero ten twenty thirty forty fifty sixty seventy eighty ninety'.split()
SCALES = [(10 ** 9, 'billion'), (10 ** 6, 'million'), (1000, 'thousand'), (100, 'hundred')]
ORDINAL_ENDINGS = {'one': 'first', 'two': 'second', 'three': 'third', 'five': 'fifth', 'eight': 'eighth',
                   'nine': 'ninth', 'twelve': 'twelfth'}
# Abbreviations written with a full stop, in the words the synthesizers say for them; None: the reading is
# ambiguous (St. is saint or street), so the sentence is rejected
ABBREVIATIONS = {'mr': 'mister', 'mrs': 'missus', 'dr': 'doctor', 'vs': 'versus', 'etc': 'et cetera', 'st': None,
                 'jr': 'junior', 'sr': 'senior', 'prof': 'professor', 'gen': None, 'co': None, 'mt': None}


def cardinal(n):
    """123 -> 'one hundred twenty three' (no 'and', as the synthesizers vary on it and LibriSpeech omits it)."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ('' if n % 10 == 0 else ' ' + ONES[n % 10])
    for value, name in SCALES:
        if n >= value:
            rest = n % value
            return f'{cardinal(n // value)} {name}' + ('' if rest == 0 else ' ' + cardinal(rest))
    raise ValueError(n)


def ordinal(n):
    words = cardinal(n).split()
    last = words[-1]
    if last in ORDINAL_ENDINGS:
        words[-1] = ORDINAL_ENDINGS[last]
    elif last.endswith('y'):
        words[-1] = last[:-1] + 'ieth'
    else:
        words[-1] = last + 'th'
    return ' '.join(words)


def year(n):
    """1984 -> 'nineteen eighty four', 1900 -> 'nineteen hundred', 2005 -> 'two thousand five'."""
    hi, lo = divmod(n, 100)
    if lo == 0:
        return f'{cardinal(hi)} hundred'
    if 2000 <= n < 2010:
        return cardinal(n)
    return f'{cardinal(hi)} ' + (f'oh {ONES[lo]}' if lo < 10 else cardinal(lo))


def spell_number(token):
    """A digit token ('42', '1,000', '3.5', '21st', '1990s') in words, or None when it is not one we read."""
    m = re.fullmatch(r'(\d+)(st|nd|rd|th)', token)
    if m:
        return ordinal(int(m.group(1)))
    m = re.fullmatch(r'(1[1-9]\d0)s', token)  # decades: the 1990s, the 1900s
    if m:
        words = year(int(m.group(1)))
        return words[:-1] + 'ies' if words.endswith('y') else words + 's'
    if re.fullmatch(r'\d{1,3}(,\d{3})+', token):
        return cardinal(int(token.replace(',', '')))
    if re.fullmatch(r'\d+', token):
        n = int(token)
        if len(token) > 1 and token[0] == '0' or n >= 10 ** 12:
            return ' '.join(ONES[int(d)] for d in token)
        return year(n) if 1100 <= n <= 1999 else cardinal(n)
    m = re.fullmatch(r'(\d+)\.(\d+)', token)
    if m:
        return spell_number(m.group(1)) + ' point ' + ' '.join(ONES[int(d)] for d in m.group(2))
    return None


def ascii_fold(text):
    """Curly quotes and dashes to ASCII, accents stripped (cafe for café)."""
    text = text.replace('\u2019', "'").replace('\u2018', "'").replace('`', "'")
    text = re.sub('[\u2010-\u2015]', '-', text)
    return unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode()


def normalise(sentence):
    """A prose sentence -> space-separated lower-case words over [a-z'] ('I' capital), or None if it can't be.

    Checked with `python -m doctest normalise.py` (the expected readings written by hand):
    >>> normalise('In 1984, Mr. Smith paid 1,200 dollars for 3.5 acres.')
    'in nineteen eighty four mister smith paid one thousand two hundred dollars for three point five acres'
    >>> normalise("I'm on the 21st floor; it's 2005, not the 1990s or 1905.")
    "I'm on the twenty first floor it's two thousand five not the nineteen nineties or nineteen oh five"
    >>> normalise('The 12th and 90th Psalms (well-known) were sung by a café choir.')
    'the twelfth and ninetieth psalms well known were sung by a cafe choir'
    >>> [normalise(s) for s in ('World War II', 'St. Paul', '50% off', 'x = 3')]
    [None, None, None, None]
    """
    text = ascii_fold(sentence)
    if re.search(r'[@#$%&*+=<>|\\~^_{}\[\]]', text):  # symbols each synthesizer reads its own way
        return None
    text = re.sub(r'(?<=\d)(?=[a-zA-Z]{3,})|(?<=[a-zA-Z])(?=\d)', ' ', text)
    words = []
    for token in re.split(r"[\s\-/]+", text):
        token = token.strip('"\'(),.;:!?')
        if not token:
            continue
        low = token.lower()
        if low in ABBREVIATIONS and re.search(r'\b' + re.escape(token) + r'\.', text):
            if ABBREVIATIONS[low] is None:
                return None
            words.extend(ABBREVIATIONS[low].split())
            continue
        if re.search(r'\d', token):
            spelt = spell_number(token.rstrip('.,'))
            if spelt is None:
                return None
            words.extend(spelt.split())
            continue
        if not re.fullmatch(r"[a-zA-Z]+('[a-zA-Z]+)*", token):
            return None
        if re.fullmatch(r'[IVXLCDM]{2,}', token):  # World War II: 'two', 'the second' or 'i i', by synthesizer
            return None
        words.append(low)
    out = ' '.join(words)
    out = re.sub(r"\bi\b", 'I', out)
    return re.sub(r"\bi'", "I'", out)
