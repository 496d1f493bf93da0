"""The style table of the synthetic corpus: every style by name, in a fixed order.

The styles are written down by family in ``styles_popular.py``, ``styles_electronic.py``,
``styles_world.py`` and ``styles_classical.py``; this module only collects them. The
first sixteen keep the order of the first corpus, so a corpus plan over them is
unchanged; the rest follow.
"""

from __future__ import annotations

from sonogen.data.music import Style
from sonogen.data.styles_classical import CLASSICAL_STYLES
from sonogen.data.styles_electronic import ELECTRONIC
from sonogen.data.styles_popular import POPULAR
from sonogen.data.styles_world import WORLD

#: The first corpus's sixteen styles, in its order.
FIRST_SIXTEEN = ("rock", "jazz swing", "bossa nova", "funk", "techno", "house", "hip hop", "reggae", "blues",
                 "ambient", "solo piano", "string ensemble", "drums only", "disco", "metal", "country")

_ALL: dict[str, Style] = {s.name: s for s in POPULAR + ELECTRONIC + WORLD + CLASSICAL_STYLES}

#: Style name -> style, the first sixteen first.
STYLE_TABLE: dict[str, Style] = {name: _ALL[name] for name in FIRST_SIXTEEN}
STYLE_TABLE.update({name: style for name, style in _ALL.items() if name not in STYLE_TABLE})

#: Style names in corpus order.
STYLES: list[str] = list(STYLE_TABLE)
