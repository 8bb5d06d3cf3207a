"""A seeded English sentence generator: a small phrase-structure grammar over hand-written word classes.

Every word is spelt out (no digits or abbreviations), so what espeak-ng says is exactly the transcript.
Verb and noun forms are listed explicitly or made by the regular English spelling rules below, which
the lists are written to satisfy (irregular forms are spelt out in the tables).

Used by text.py together with Faker's English word list (see there for why both).
"""
import random

# ---------------------------------------------------------------------------------------------- words
SUBJ = ['I', 'you', 'we', 'they', 'he', 'she', 'it']
OBJ = {'I': 'me', 'you': 'you', 'we': 'us', 'they': 'them', 'he': 'him', 'she': 'her', 'it': 'it'}
POSS = ['my', 'your', 'our', 'their', 'his', 'her', 'its']
NAMES = ('John Mary Peter Anna James Sarah David Emma Thomas Alice Robert Helen William Laura Michael Susan '
         'George Jane Henry Lucy Charles Grace Edward Ruth Frank Clara Arthur Rose Walter Ellen Paul Martha '
         'Daniel Kate Simon Nora Victor Julia Oliver Amy Samuel Jack Lily Harry Sophie Tom Ben Eva Max Leo').split()
DET_SG = ['the', 'a', 'this', 'that', 'every', 'one', 'another', 'each', 'no', 'some'] + POSS
DET_PL = ['the', 'these', 'those', 'some', 'many', 'few', 'several', 'all the', 'most of the', 'no'] + POSS
NUMBERS = ['two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
           'fifteen', 'twenty', 'thirty', 'forty', 'fifty', 'a hundred', 'a thousand']

# concrete and abstract nouns; irregular plurals as 'singular:plural'; '-' = no plural (mass noun)
NOUNS = """
man:men woman:women child:children person:people foot:feet tooth:teeth mouse:mice knife:knives wife:wives
leaf:leaves life:lives shelf:shelves wolf:wolves half:halves loaf:loaves sheep:sheep fish:fish
house home room door window wall floor roof garden street road bridge river lake sea ocean island hill
mountain valley forest field farm village town city country world station market shop store church school
office library hospital kitchen table chair bed desk lamp clock mirror picture letter book page paper pen
pencil box bag basket bottle cup glass plate bowl spoon fork pot kettle stove fire candle key lock ring
coat hat shoe boot shirt dress jacket glove pocket button ribbon thread needle blanket pillow curtain
horse dog cat bird cow pig goat duck hen rabbit fox bear lion tiger monkey snake frog bee fly:flies spider
tree flower rose grass seed root branch apple orange lemon pear cherry:cherries berry:berries potato:potatoes
tomato:tomatoes onion carrot bean egg cake bread:- butter:- cheese:- milk:- water:- tea:- coffee:- soup:-
sugar:- salt:- rice:- meat:- wine:- honey:- sun moon star cloud rain:- snow:- wind storm sky:skies light
shadow morning evening night day week month year hour minute moment second
king queen prince princess captain soldier sailor doctor nurse teacher student farmer driver painter
writer singer dancer baker hunter fisherman:fishermen stranger neighbour friend brother sister mother
father uncle aunt cousin daughter son baby:babies boy girl lady:ladies gentleman:gentlemen guest servant
master merchant judge priest officer pilot engineer worker leader member partner visitor traveller
train car bus ship boat plane wheel engine road machine computer phone camera radio engine ticket map
coin bill price bank card gift prize game ball toy drum song story:stories poem word voice name number
question answer reason idea plan dream hope fear secret promise mistake problem chance choice habit
curiosity:- patience:- courage:- silence:- beauty:- truth kindness:- anger:- pride:- wisdom:- knowledge:-
memory:memories history:histories music:- science:- art journey adventure lesson meeting party:parties
dinner breakfast lunch holiday birthday wedding summer winter spring autumn weather:- season
army:armies battle war peace:- law rule court company:companies family:families group crowd team class
picture photograph corner edge side top bottom middle end beginning part piece line circle square
colour sound noise smell taste touch feeling heart head face eye ear nose mouth hand arm leg finger
shoulder hair:- skin:- blood:- bone stone rock sand:- dust:- iron:- gold:- silver:- wood glass:-
garden field gate fence path hall tower castle palace cottage cabin tent camp harbour shore beach:beaches
""".split()

ADJECTIVES = """
old young new big small large little tall short long wide narrow heavy light dark bright clean dirty
quiet loud soft hard warm cold hot cool dry wet early late quick slow rich poor happy sad angry calm
kind cruel brave afraid proud shy polite rude clever foolish wise strange familiar simple difficult easy
busy empty full fresh green red blue yellow white black brown grey golden silver pink purple orange
beautiful ugly pretty lovely gentle rough smooth sharp sweet bitter sour deep shallow thick thin strong
weak sick healthy tired hungry thirsty lonely famous ordinary curious careful careless honest serious
funny silly safe dangerous lucky nervous patient eager modern ancient wooden broken open closed secret
private public simple plain wild tame distant nearby true false real perfect terrible wonderful
important useful useless expensive cheap free bright fine final whole main certain clear common
""".split()

# verbs: base:past[:past participle]; third person and -ing forms by rule, with exceptions below
VERBS_T = """
see:saw:seen find:found take:took:taken give:gave:given bring:brought make:made hold:held keep:kept
leave:left lose:lost buy:bought sell:sold send:sent build:built break:broke:broken catch:caught
choose:chose:chosen draw:drew:drawn drive:drove:driven eat:ate:eaten feed:fed fight:fought forget:forgot:forgotten
hear:heard hide:hid:hidden know:knew:known lead:led lend:lent meet:met pay:paid read:read ride:rode:ridden
sing:sang:sung steal:stole:stolen teach:taught tell:told throw:threw:thrown wear:wore:worn win:won write:wrote:written
open:opened close:closed carry:carried clean:cleaned cook:cooked count:counted cover:covered follow:followed
help:helped join:joined kick:kicked kill:killed like:liked love:loved hate:hated miss:missed move:moved
need:needed paint:painted pick:picked place:placed play:played pull:pulled push:pushed reach:reached
remember:remembered save:saved share:shared show:showed:shown start:started touch:touched visit:visited
want:wanted wash:washed watch:watched answer:answered ask:asked call:called change:changed check:checked
collect:collected describe:described discover:discovered enjoy:enjoyed explain:explained fill:filled
finish:finished fix:fixed guard:guarded greet:greeted hunt:hunted invite:invited lift:lifted mend:mended
notice:noticed order:ordered protect:protected receive:received repair:repaired return:returned
search:searched serve:served study:studied thank:thanked trust:trusted use:used warn:warned
""".split()

VERBS_I = """
arrive:arrived wait:waited laugh:laughed smile:smiled cry:cried shout:shouted whisper:whispered
listen:listened travel:travelled work:worked rest:rested dance:danced jump:jumped climb:climbed
walk:walked talk:talked sleep:slept stay:stayed return:returned fall:fell:fallen run:ran:run
swim:swam:swum sit:sat stand:stood speak:spoke:spoken grow:grew:grown fly:flew:flown go:went:gone
come:came:come begin:began:begun wake:woke:woken rise:rose:risen sink:sank:sunk shine:shone
disappear:disappeared hurry:hurried pray:prayed breathe:breathed wonder:wondered agree:agreed
""".split()

ADVERBS = """
quickly slowly quietly loudly carefully gently suddenly finally slowly happily sadly easily badly well
soon again still already almost always never often sometimes rarely early late together alone
outside inside upstairs downstairs away home here there everywhere
""".split()

TIME = ['today', 'yesterday', 'tonight', 'tomorrow', 'last night', 'last week', 'last year', 'this morning',
        'this evening', 'at this moment', 'at that moment', 'at once', 'every day', 'every morning',
        'in the morning', 'in the evening', 'at night', 'at noon', 'before dinner', 'after breakfast',
        'after a while', 'for a moment', 'for a long time', 'all day', 'all night', 'once again', 'right now',
        'in the summer', 'in the winter', 'on sunday', 'on monday', 'on friday', 'next week', 'long ago',
        'a few minutes later', 'the next day', 'the other day', 'some time ago', 'in a few days']
PREP = ['in', 'on', 'at', 'under', 'beside', 'behind', 'near', 'with', 'without', 'from', 'into', 'through',
        'across', 'over', 'around', 'for', 'after', 'before', 'towards', 'along', 'against', 'above',
        'below', 'by', 'inside', 'outside', 'beyond', 'among', 'past', 'about']
MODAL = ['will', 'would', 'can', 'could', 'should', 'must', 'might', 'may', 'shall', 'did not', 'will not',
         'cannot', 'could not', 'would not', 'should never', 'must not', 'used to', 'wanted to', 'tried to',
         'had to', 'began to', 'decided to', 'forgot to', 'hoped to', 'refused to', 'promised to',
         "didn't", "can't", "won't", "couldn't", "wouldn't", "shouldn't", "mustn't"]
CONJ = ['and', 'but', 'because', 'while', 'when', 'so', 'although', 'if', 'until', 'before', 'after',
        'as soon as', 'since', 'unless', 'and then', 'or']
THINK = ['I think', 'I know', 'she said', 'he said', 'they say', 'we heard', 'you know', 'it seems',
         'I believe', 'nobody knew', 'I wonder if', 'she told me', 'he thought', 'I hope', 'perhaps',
         'of course', 'I am sure', 'it is true', 'it was clear', 'everyone knows', "I'm sure", "it's true",
         "I don't know if", "don't forget", "she doesn't know if", "we're sure", "they're saying", "I've heard"]
QWORD = ['where', 'why', 'when', 'how', 'what']
VOWELS = 'aeiou'


def parse_pairs(words):
    out = []
    for w in words:
        parts = w.split(':')
        out.append(parts)
    return out


def plural(spec):
    if len(spec) > 1:
        return None if spec[1] == '-' else spec[1]
    w = spec[0]
    if w.endswith(('s', 'x', 'z', 'ch', 'sh')):
        return w + 'es'
    if w.endswith('y') and w[-2] not in VOWELS:
        return w[:-1] + 'ies'
    return w + 's'


THIRD_IRREG = {'go': 'goes', 'do': 'does', 'have': 'has'}
ING_IRREG = {'run': 'running', 'swim': 'swimming', 'sit': 'sitting', 'win': 'winning', 'begin': 'beginning',
             'forget': 'forgetting', 'travel': 'travelling', 'shop': 'shopping', 'stop': 'stopping',
             'lie': 'lying', 'die': 'dying', 'see': 'seeing', 'agree': 'agreeing', 'be': 'being'}


def third(v):
    if v in THIRD_IRREG:
        return THIRD_IRREG[v]
    if v.endswith(('s', 'x', 'z', 'ch', 'sh', 'o')):
        return v + 'es'
    if v.endswith('y') and v[-2] not in VOWELS:
        return v[:-1] + 'ies'
    return v + 's'


def ing(v):
    if v in ING_IRREG:
        return ING_IRREG[v]
    if v.endswith('ie'):
        return v[:-2] + 'ying'
    if v.endswith('e') and not v.endswith(('ee', 'ye', 'oe')):
        return v[:-1] + 'ing'
    return v + 'ing'


# The 'small' vocabulary: a seeded subset of the open word classes (function words stay complete). Why: with
# every word (~1,700 grammar words + ~960 Faker words) a 2M-parameter model trained for 90 minutes on 2 cores
# underfits (22 % CER, training CER as high as held-out CER); a smaller vocabulary gives each word several
# times more examples in the same audio. The words of the demonstration sentence and of samples/ are always in.
SMALL_VOCAB = {'nouns': 110, 'adjectives': 40, 'verbs_t': 36, 'verbs_i': 16, 'names': 12, 'adverbs': 20}
REQUIRED = {'curiosity', 'moment', 'captain', 'box', 'river', 'key', 'kitchen', 'door', 'old', 'small', 'wooden',
            'find', 'leave'}


def _subset(items, n, key, r):
    """n items of a list, seeded, keeping REQUIRED ones, in the list's order."""
    must = [x for x in items if key(x) in REQUIRED]
    rest = [x for x in items if key(x) not in REQUIRED]
    keep = set(map(id, must + r.sample(rest, max(0, n - len(must)))))
    return [x for x in items if id(x) in keep]


class Grammar:
    def __init__(self, vocab='full', seed=0):
        self.nouns = []  # (singular, plural or None)
        for spec in parse_pairs(NOUNS):
            self.nouns.append((spec[0], plural(spec)))
        self.vt = [self._verb(s) for s in parse_pairs(VERBS_T)]
        self.vi = [self._verb(s) for s in parse_pairs(VERBS_I)]
        self.adj = ADJECTIVES
        self.names = NAMES
        self.adverbs = ADVERBS
        if vocab == 'small':
            r = random.Random(f'{seed}/vocab')
            # NOUNS repeats a few words (engine, road, ...): dedupe first so the count is of distinct nouns
            self.nouns = list({n[0]: n for n in self.nouns}.values())
            self.nouns = _subset(self.nouns, SMALL_VOCAB['nouns'], lambda n: n[0], r)
            self.adj = _subset(sorted(set(ADJECTIVES), key=ADJECTIVES.index), SMALL_VOCAB['adjectives'], lambda a: a, r)
            self.vt = _subset(self.vt, SMALL_VOCAB['verbs_t'], lambda v: v['base'], r)
            self.vi = _subset(self.vi, SMALL_VOCAB['verbs_i'], lambda v: v['base'], r)
            self.names = _subset(NAMES, SMALL_VOCAB['names'], lambda x: x, r)
            self.adverbs = _subset(sorted(set(ADVERBS), key=ADVERBS.index), SMALL_VOCAB['adverbs'], lambda x: x, r)
        elif vocab != 'full':
            raise ValueError(f'vocab: full or small, got {vocab}')
        self.count_nouns = [n for n in self.nouns if n[1]]

    @staticmethod
    def _verb(spec):
        base, past = spec[0], spec[1]
        pp = spec[2] if len(spec) > 2 else past
        return {'base': base, 'past': past, 'pp': pp, '3sg': third(base), 'ing': ing(base)}

    # -- phrases
    def np(self, r, allow_pron=True, depth=0):
        x = r.random()
        if allow_pron and x < 0.12:
            return r.choice(list(OBJ.values())), False
        if x < 0.18:
            return r.choice(self.names), False
        if x < 0.21:
            return r.choice(self.names) + "'s " + r.choice(self.nouns)[0], False
        adj = ''
        if r.random() < 0.45:
            adj = r.choice(self.adj) + ' '
            if r.random() < 0.12:
                adj = r.choice(self.adj) + ' and ' + adj
        if r.random() < 0.7:
            sg, _ = r.choice(self.nouns)
            det = r.choice(DET_SG)
            if det == 'a' and (adj or sg)[0] in VOWELS:
                det = 'an'
            phrase = f'{det} {adj}{sg}'
            plural_ = False
        else:
            _, pl = r.choice(self.count_nouns)
            det = r.choice(DET_PL + NUMBERS) if r.random() < 0.8 else ''
            phrase = f'{det} {adj}{pl}'.strip()
            plural_ = True
        if depth == 0 and r.random() < 0.15:
            phrase += ' ' + r.choice(['of', 'with', 'from', 'near', 'behind']) + ' ' + self.np(r, False, 1)[0]
        return phrase, plural_

    def subject(self, r):
        if r.random() < 0.45:
            s = r.choice(SUBJ)
            return s, s
        np, pl = self.np(r, allow_pron=False)
        return np, ('they' if pl else 'it')

    def pp(self, r):
        return r.choice(PREP) + ' ' + self.np(r)[0]

    def be(self, person, past):
        if past:
            return 'were' if person in ('you', 'we', 'they') else 'was'
        return {'I': 'am', 'you': 'are', 'we': 'are', 'they': 'are'}.get(person, 'is')

    def clause(self, r):
        subj, person = self.subject(r)
        k = r.random()
        third_p = person in ('he', 'she', 'it')
        if k < 0.22:
            v = r.choice(self.vt)
            vp = f"{v['past']} {self.np(r)[0]}"
        elif k < 0.38:
            v = r.choice(self.vt + self.vi)
            obj = ' ' + self.np(r)[0] if v in self.vt else ''
            vp = f"{r.choice(MODAL)} {v['base']}{obj}"
        elif k < 0.50:
            v = r.choice(self.vt)
            vp = f"{v['3sg'] if third_p else v['base']} {self.np(r)[0]}"
        elif k < 0.60:
            v = r.choice(self.vt + self.vi)
            obj = ' ' + self.np(r)[0] if v in self.vt else ''
            vp = f"{self.be(person, r.random() < 0.6)} {v['ing']}{obj}"
        elif k < 0.70:
            adv = r.choice(['very ', 'so ', 'quite ', 'rather ', 'too ', 'not ', '', '', ''])
            vp = f"{self.be(person, r.random() < 0.6)} {adv}{r.choice(self.adj)}"
        elif k < 0.80:
            vp = f"{r.choice(['had', 'has' if third_p else 'have', 'had never', 'has always' if third_p else 'have always'])} "
            vp += r.choice([self.np(r)[0], r.choice(self.vt)['pp'] + ' ' + self.np(r)[0]])
            if r.random() < 0.4:
                vp += ' ' + r.choice(PREP) + ' ' + r.choice(list(OBJ.values()))
        elif k < 0.90:
            v = r.choice(self.vi)
            vp = v['past'] + (' ' + r.choice(self.adverbs) if r.random() < 0.5 else '')
        else:
            return f"there {r.choice(['was', 'is', 'were', 'will be', 'had been'])} {self.np(r)[0]} {self.pp(r)}"
        out = f'{subj} {vp}'
        if r.random() < 0.35:
            out += ' ' + self.pp(r)
        if r.random() < 0.25:
            out += ' ' + r.choice(TIME)
        return out

    def question(self, r):
        subj, person = self.subject(r)
        v = r.choice(self.vt)
        if r.random() < 0.5:
            return f"{r.choice(QWORD)} did {subj} {v['base']} {self.np(r)[0]}"
        return f"{r.choice(['did', 'can', 'will', 'could', 'should', 'would'])} {subj} {v['base']} {self.np(r)[0]}" + \
            (' ' + r.choice(TIME) if r.random() < 0.3 else '')

    def sentence(self, r):
        k = r.random()
        if k < 0.55:
            s = self.clause(r)
        elif k < 0.80:
            s = self.clause(r) + ' ' + r.choice(CONJ) + ' ' + self.clause(r)
        elif k < 0.90:
            s = r.choice(THINK) + ' ' + self.clause(r)
        else:
            s = self.question(r)
        return s


def words_in_grammar(g=None):
    g = g or Grammar()
    ws = set()
    for n in g.nouns:
        ws.update(x for x in n if x)
    for v in g.vt + g.vi:
        ws.update(v.values())
    for lst in (SUBJ, POSS, g.names, DET_SG, DET_PL, NUMBERS, g.adj, g.adverbs, TIME, PREP, MODAL, CONJ, THINK, QWORD):
        for item in lst:
            ws.update(item.split())
    ws.update(OBJ.values())
    return ws


if __name__ == '__main__':
    import sys
    g = Grammar(*(sys.argv[1:2] or ['full']))
    r = random.Random(1)
    for _ in range(30):
        print(g.sentence(r))
    print(len(words_in_grammar(g)), 'distinct words')
