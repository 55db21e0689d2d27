"""Word lists for moderating the child's name and the message Santa reads aloud.

Source and intent: hand-curated from the common profanity, slurs and sexual terms of Spanish
(Spain and Latin America) and English (UK and US). It is a first line of defence against
obvious abuse in text that Papá Noel will *say* to a child, not a judge of tone: mild
words a family might use affectionately ("tonto", "silly") are left out on purpose, and so
are everyday words that are vulgar only in some countries ("coger", "pija") where blocking
them would refuse ordinary messages. Entries are whole tokens, written lowercase with their
accents; the matcher (web/moderation.py) compares them case- and accent-insensitively, except
that ñ stays distinct from n ("año" is not "ano", "coño" is not "cono").

NAME_ALLOWLIST holds real given names that are also on a block list. In the name field they
always pass; in the message they pass when written as a name (capitalized), e.g. "saluda a la
tía Concha". Add a name here when a real order is refused.
"""

from __future__ import annotations

BLOCKED_ES: frozenset[str] = frozenset(
    {
        'puta', 'putas', 'puto', 'putos', 'putita', 'putón', 'prostituta',
        'mierda', 'mierdas', 'coño', 'joder', 'jodido', 'jodida', 'jódete', 'follar', 'follando',
        'cabrón', 'cabrona', 'cabrones', 'gilipollas', 'gilipolla', 'capullo', 'mamón', 'mamona',
        'pendejo', 'pendeja', 'pendejos', 'pendejada', 'culero', 'culera',
        'verga', 'vergas', 'polla', 'pollas', 'concha', 'chocho', 'chichis', 'cojones', 'huevón', 'huevona',
        'chingar', 'chingada', 'chingado', 'chinga', 'chingón', 'pinchi',
        'marica', 'maricón', 'maricones', 'bollera', 'travelo', 'sudaca', 'negrata',
        'zorra', 'zorras', 'ramera', 'furcia', 'golfa',
        'idiota', 'imbécil', 'estúpido', 'estúpida', 'subnormal', 'mongólico', 'tarado', 'tarada',
        'malparido', 'malparida', 'hijueputa', 'hijoputa', 'gonorrea', 'boludo', 'boluda', 'pelotudo',
        'pelotuda', 'orto', 'carajo', 'conchuda',
        'porno', 'pornografía', 'sexo', 'masturbar', 'pajero', 'pajera', 'violador',
        'nazi', 'nazis', 'hitler', 'muérete', 'suicídate',
    }
)  # fmt: skip

BLOCKED_EN: frozenset[str] = frozenset(
    {
        'fuck', 'fucks', 'fucked', 'fucker', 'fuckers', 'fucking', 'motherfucker', 'motherfucking', 'fck', 'wtf',
        'shit', 'shits', 'shitty', 'bullshit', 'crap', 'damn', 'goddamn',
        'bitch', 'bitches', 'bastard', 'bastards', 'asshole', 'assholes', 'arsehole', 'arse', 'jackass', 'dumbass',
        'dick', 'dicks', 'dickhead', 'cock', 'cocks', 'cocksucker', 'cunt', 'cunts', 'pussy', 'twat', 'prick',
        'wanker', 'wank', 'bollocks', 'tits', 'boobs', 'fanny', 'knobhead', 'bellend',
        'whore', 'whores', 'slut', 'sluts', 'hoe', 'skank',
        'fag', 'fags', 'faggot', 'faggots', 'dyke', 'tranny', 'retard', 'retarded', 'spastic', 'spaz',
        'nigger', 'niggers', 'nigga', 'niggas', 'chink', 'spic', 'wetback', 'kike', 'paki',
        'porn', 'porno', 'sex', 'sexy', 'nude', 'nudes', 'horny', 'masturbate', 'rape', 'rapist', 'pedo',
        'idiot', 'moron', 'stupid', 'nazi', 'nazis', 'hitler', 'kys',
    }
)  # fmt: skip

#: Real given names that are also block-listed tokens. Lowercase, with accents.
NAME_ALLOWLIST: frozenset[str] = frozenset(
    {
        # 'Dick' (Richard), 'Fanny' (Frances, Fanny), 'Concha' (Concepción).
        'dick', 'fanny', 'concha',
    }
)  # fmt: skip
