"""The whole drift result on a real window pair is unchanged by the fast paths.

``GOLDEN`` is the ``DriftResult.to_dict()`` of ``run_drift_analysis`` on ``window_pair()``
as the implementation before the fast paths (git 7506d92) computed it: generator
windows, a re-organised current window with dirty text (non-numbers, blanks, padded
and unknown categories, fractions, None), unscored rows and unknown outcomes, plus a
tiny pair. Every value must match, floats to 1e-9. The ``domain_classifier`` part (a
scikit-learn model, in ``drift/domain.py``, which the fast paths left as it was) is its output
under scikit-learn 1.9.1, the locked release: its ROC-AUC moves with the release, not with
this code.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from typing import Any

import numpy as np
import pytest

from attrition.config import Settings
from attrition.data.generator import attrition_probability, generate_workforce
from attrition.drift import run_drift_analysis
from attrition.drift.windows import Window
from attrition.schema import ATTRITION_YES, TARGET

# zlib + base64 of the JSON (sorted keys, created_at removed), keyed by rows per window.
GOLDEN = (
    "eNrtXQ1vI8eR/SvCAj4kuFuiu7r6K3c4wImTSw5xEtgBgkNgCLRE7TKWSB1Jrb0I9r/fez1DaZozWn1xRB5gOVlI5JAzU11T9eqj"
    "X/3zjRjz5lcn/3xzdrNazRab09XyxzVewMv/dvLmfHk1nS9Ozy6n6/X8Yj5bNYcuL2+uFjzq72++fDd7gwN/fbOeL2br9V9X0w+z"
    "S77y1XR++fGb6aa8/dXserraXOH7y1/z9Wa6OJv9brW8+v3yqhzx2/Obs+lmvlxUf/xuPrs8L68sPsxXywW/4Vu8s76Ynm0P/q/Z"
    "4hwXht9+v7xZ3Z3zv5ff/2HxYXn5YbY9L17546y9PPz+zfJye+Dud349Xc0308tvN9PNzbq8sFxs3l9+/MPirL3e9oXtyf50c/Wb"
    "5dX1dDGfrf+2XP0wK1f95w+z1V/nzQf+Mludlau/nK4+/n7+w/bFi+XqisLAN80X7/jiN7PLcvPr9/Pr3Qv7drM8++HP1/zz9lb+"
    "usSl8qT4/P/MpqtywViI+QIv8PTrP07XG77DN3jgH+cXs1/jQnBavlQ+9OWmuYGPt6/8YfGbRie2giqvfjvHp/iFf8HqLbfXVd76"
    "23zznh/5erqYvsOSfIc3BtXqYnl5zr8cfl/NLmY44mxWH7Janp1Ob87wt5l4dVa82f7YT9TM1fxiMzs/vZhhiVazRhk7avZd55j1"
    "++lqVr7JuJ0fHDVbb+ZXUx53fbcarZ4vLubn5doui7D5FdnjMxD1Of66+yxlcDX96XT7kc3p+Wp53ZyTb802q/nZunzr9Wp2Nl9T"
    "buUc89P383fvm69Wa2PQaHxK4jwvDm9fLn9spCDV+8p3773Ae66j/eMt/vKqUawEZzSqjdpdinJ82Pmp1qp72cnxi8SLZhuC2z1u"
    "e/3qomYNUbLP6q3hZX6YXt40Z8NXWJdilhytmqSfytecTS8ve2IKSQUfx6VbH1Nzu3encTE7a5xqkuhTkBeKyUlQk5PiW3PISXpi"
    "0nSvYELwxmqChHNQJ3KfZJwxUPDks8cCQwBaScbb+hI+VU/HjgZ5pz4ZrIUkF4zUoknOBh+DSSH74OUlosEfNuBqcYMh5+jwW+yJ"
    "Jltrksd6SvnX3SuonLL4CM1w2aao96pQcpKtwwltzN6X4+7klKhc0AzxkCRu9RMFdb1czzfzD8U+iMMVqaVoIEtoTxFksTlQOfyx"
    "eQ9D8h62qZE7P38xna/o14qkZ/97M708XV5fL1ebm8V885FGh4bm3Wp5c11M0D/fTDd41L+/2fCiOr7p1g5ON60p8tDyqFgPidam"
    "4PvG0mcKfH5xJ1NqpORgBfqiKcJKJKrf7Kez5hr5frAGD1CCKIODPtjt9fF6fje7mja2/Pp0ev6PmzVNV1FVz0UUk/A/hyenHHEn"
    "W4XK8OmFlkLKPhTJXt80fuq0ukQ+M9sVH1r3OwEkozhrNNbim8UPOoPEK4EjvGgu9GJ6uZ5hXR4vZhux3NlDKs0vfSknuytlXFv0"
    "uCYXncLoxhBiV8h4W9UEPmfwRhmWyPmukL8eFjFuEfodseiSsER+R8RW8CRFk6yDYpTbfrmEsaawtE7wSLmA2x+SMMzuY0Tc4ry+"
    "fKsLwb8DahwGBAyFt7APGlKCUsWwI2DvKVgYTRhFH2GEuwJ25q3LT5cwxJGFboEGmZZ5LzL2wTloQsLqGXquMCTkaF8iYxNkQKzF"
    "8exetOXT626hQuhZB4ubD2ITrIfL8EuuK1g1bzU/3ToMvf1iuWofDPXEWm7vQbH2wHxfwBLrn9AXtwtDxpi6mQJMAAyB+iBhV954"
    "lHGXMCGAPTaaSo+/mn9YIig4H5C412hNADTDSmGVwo7EBV8ICBUiNDlqLPZnDwaZX4kFxCMUxemQxDXuSeKuMhrl+XiM2YDBCAAx"
    "CiuJxw4or6ffAaIBPgCWEOeax7FjmVer+aC8H9BwD1+LxUs4v4fBlL2IuwtisYYhDQm8eKw9CFyIze9+4iPtCWzprYMeMtPOqYWZ"
    "hpPJPTONSPHdoCd8QLkdoxIxEjLsHqCq24e0BauXg8czKFAeQOkhYfshe0KAd035fjx9N70+baVWACENdgtl3K4TbDFJ69pzFqPJ"
    "A+5BwXwvw1CuEI9e5yd/qs/bhdadMwPOinHJAmpbeEyv9anxPKTk4fzh/hUHGjd4bpt8UodrpH7zaz4Nat2bbrSNyOP9dFGuA/Ht"
    "dHHi0snb/4SdnPiigSVJNODWrubrNTSj8yB03lze4P8XDKM3q+lZBZf7GosrvYvyt5dJDYWC4LPX0/W6vL5Z3fDlf8wW69mC2YDF"
    "okTfRC+wdkDUqowqUu6E9ryE+eJm2TxPi9mPjYbWl3378nobCiyW5e3FzeXlkOIjgkwwSlg0m4uqVopvgIi49IlmuODS6/W8VSEE"
    "tfAldN7A/7ZGGYMivSexsp6/W8wv5mfTosNbka03TDRt5mctUuqaJS25hs1szQ+8+aHI40fKdoUbm7eChJXAM4vIAxjL2kwL+eMM"
    "8d1mOO9STNid/jRpw9NvpqvZ5ceT4CfmC+pS1In/olamfqLxhXp1X47qYbXavj6gVwa2Riz8PsJ2cVjrrmLh1O+WK6zA5atpFnUH"
    "HtExv2JESt5rq1qmJIIUMBZ2nMmKEVVLJzhHRjRJJ84URUexzt7Ppa9a7e0+QZeKLUpqqUBJQq0+VVb6KDUn5+yiAPTmKG3MNqZJ"
    "ihkxLI1KAhjJdhfZJwXGDBHgQaEb2lUbxGXRW0AimwIh+rgWKZrqJzxokRCY8aok4anw9GxP06JvZuvZdHX2/uRfTr5iYmx5zbTy"
    "SXCwSNQs9T3TVBc5Rleu1qs9wdkBqEG5HJYacaIUGz2qUTJAHPBWQNTaRPm7ATkDZpNTyISBODp3PZ6DTnqEqQjp27f2oV6teLra"
    "ZR1wgLUesNhQV1wcyyplAC0qj7UT3dGdgZLYwczT5/AS85Ximf2yGZjxsIAJVgl+NqhxiPaAbrv2CSAEq4moXFRC1DCufQL87v7Y"
    "B80TLbz3DsAbEZYN1j9NneyJNa0lsn1LVBVTj9PLIYQ3wuqKBNjprpdbrs7ni32aoeyARxH/MQIGpM07SkQ18YmLlpVZlcrHsezo"
    "UogJlgyueVQdwkUEgzhELTU65hGs0Nezc5r4E6ctwnb4zH3Kc1t8P0ZD5DysD02DOrUlVDokvoaLY45PVSSx6FUZIhMVbi4Fqwjw"
    "RMYM3fIkOliWTPcOXXcjqBAsT2wtj/TDs8/0aRxnnIaIFe4BaxY9keyYduih6J8QhAUKwlUWbLqGyLFShsAfNkgzPjyiDgHhMnAF"
    "8mr+lTHs0PRyduJDq0fB9PSoX9E7KrVxiJkzYntrg2O5aWzzE4SFfQRbmgiHdzOm8Bgpw0mFjPheYuXCANXYboFoEgA8eauj+jCc"
    "DNEk7KCNDGDdWEg6+EkoqqMTqTWnbgI7Rtflg0Tg0pCYK87qD4uhxQusTvQIsJl0bEoftzFYBDj1hvkaKzHEcTF0HeIb93CMn51n"
    "UtsYWir/xKSjO/HpzgLtwqB+++BRWiI8Z94ZwYMN8bH5Z1QkjSieMMYbb53zPSQ98PatGQI+ilnYNBG9j82FjqhLpQqIuJBtBkFL"
    "/XzfhkhO3BYJaRjSn9sOzeMMwfBQx2iY+ctGDgh8JBLJQ2vY5Skp1AEY63WI3dQF5+OowMcDDkafXEA8kZgMH0NpvgXyWZ/89qfZ"
    "2Q370k4kbCMxHVKhbevt/otnL3dkYlOGtHLpb8zGPQ0E+Z4evflyvUHsML1punc/q1Kwdtm6bKN3gD6pH5AZtrcIK2UZRsmXPtCt"
    "VqnLMeBFL+p5iB9RqUQm7HWFf40RUWAYxRK5E9l6MpZf+2r0/yMWY3sqojBEQdkl8Yc0SUwcJgvPCozvTR2KJfVYAmqeGHx61FAM"
    "YnBwnBEgR52Jo4RipSfmRG99WR8L3dteclT6E3wC8khAQexWtXLgnBBgaXbCzu8MJGKroEwU9ikxKUlEhNB+TAs0UYAvh6uNji0o"
    "o9VcwyTL7F+NK4B6EpS/7+jR7i6a+/XIP1OR9tETos6xryaw68uVqtWoFVhmDcU5YXdQLzvNF7lHwyXmySVUFY4IqBKzx4ezSX7k"
    "npC47QZp2tbk4Z4Qm5kkofXybFMKz9ApO3EReqSl0DFR6pcO6tRR1/STKkE21An2vNm6M6ZGAYvxbIQ3WDTZ0SiCbW4mYRpCbXGz"
    "d74tR8DwGIl+ET2NrFE+Vz/p4TYjAwmaLNwtkNiO+MSivp5sU47W9WDS8Ba+o6x9GKuRndE5Ipyu1GnvQOnBzCMC/ZhyDqJsha60"
    "CZYp8T/rVVzTPDpe4YM72YQW0RPXj+Hk/rQ8iduia+wH/N3NnkdphbAarHKmwJKzWHdgfCRW4RfgvPDk4x/XTTwiCIDFtIDaUDk4"
    "Yjtm9d5ygyk3jBiW4tvu/1EQkvUT15bsd7zY4O7go2wAcR7WAM5cnI0a4rG2p3FDIpvro02OPSLH1p5mrQkB/hZ6rgmCzE/1ZHbb"
    "iWZzzxQNbis/zpjNqdKpZ6fcXXvINKR1wCMC3Q4aLbBRqgI2RGxZvdFSxG+qJOMFbLhAOFPNMIBZTIzjlPG3XdZie1jocxQER6lH"
    "0Wa2ETkgW7h/Ew8LibgrHX4LEXd2tkoeEXqngKgSqhT9qMkjmXBHOVA+nCtQs4zS1ii0Q40apZ4ZGiKrOM5SiGW2jzUjhxsOh+wC"
    "we2IhXLAzBCSRKk69SMUxwHBRcRwmtKonfqBSQWmQZPz4xXyrZ3EtiV2J1k0SGtylJAoqlMWGqPV4A9dzgdOAozlLg/LPR8VJqJ3"
    "S8mzgwhoaeRWEGhvHd4/jImoco6qDb8XfQxPrsembTHN9YzRvYQ4R7p/CMgQfsZmzw6jMKZFegBjW+DUoFSdGKJUqEhxfJJS3LJ+"
    "XIytE1UfEBdyKxMiwzxKGc3nVoFC6mGiAeKkY7RGwB0JuNHgMWcCxh0SURsppVcfDYyBi9X2ocDaSIqe2q0yanIoNF7VmKR071bH"
    "cmZx0hY/fK51p8+wdZSVD8PsviTSQsEW5HTg3R1eXQiI3xGXqbW52rQIR5uhNnC+pLkII7syW22HfcT2DhtNLBEAPpJDufSnKpNO"
    "fCnHImgYUKYeOdsx2iIrZO6ge4FJUpNGr6QZZ52Lpc/Mmt3CB/NW0KKgzC2GGllHou5IJ+jVBj92tqgufDwiWyR4BgypcKDvXuUZ"
    "6iQTX/aeCXRzQJ+Gaf2OUKkMCQ08+8SgXMAcx5SB9HWsH4Cx4W24tdqqGbXNiHKplco/rFQOgBtu2SZmtqx5iZEa0KhdNsgjVaeI"
    "VeP2Lu9tzvaoarO2rs2qoxEtO5/YtTayNtUJ7cdokyc1XGETSEELM89ntem7wou5Xk8bdXrT0J1Mr2YbfG0hORlin21Xslz16fl8"
    "fbb8MFt93IFPZOJswW5Da1jwUSHixPcNear2rdtIuf27khtf6N11s0Kn388Xt+dY44yFtuWWT7C6nenN2enV8nx2e8nhjmiX75WP"
    "t+qwVe6GwvT0DF9banTFne282fmcbIXQVYtTWPjVbLreldO9j1u5t7tKQuGBrC9h8Ijq3honvHtI51LLdVyvuC+xsPtQmNWdNDSO"
    "FTPr9sm6/VQR7/fTxflpgfMtG6SweQ9xBgsL1MZyQGW8XWYlNJDbyfnSn9IccxvfOm5zFqfq4HOkfX992jc4W7tUPl/Wo1nzSlzl"
    "Xm9JL03c4c7Dm1uiy1hz6sXyqJzPb67afGXNuRc+dW0rzPIWgiaEy8FZUiHEIerDhvayfzc/rCs5UTbRlr3KPoXGUeCQ3u6N7iWH"
    "Zl2X30+/n19CBrMhqd1tkUxG8fWM7/FZrZlSPy9TuyNU3xFj2RfaEZz9VBvNW1Gx0OwESD0qCb7kHuPZfHy6Xrbk11tVhyRPWmqk"
    "X6x/edLe6Mkv7hghfvnvJ40xxMvlVopJLKzBt9+BJ/Ht8uLt9kk8abzKyfR7mLgT+8WvTr58B6Ftm8K/+4yBP3s/u5o2lKU/4btO"
    "aURvaav+/ua3fLF8wdY+1AfsvNNlnvr7d586Fq7AgO3j3vqQwij1ZvnDGx7IrTlD7OJ8/Wd68Z/pxfdNL97q1Wf5xdtjKoLx5HLU"
    "mnrtIYLxziLfwzW+w58dj4prPHqfA0lLY7AsNtdM0SF4YGLYRAfPYcxLSbTJxO2z4ZYLdmnXHKltHCUI29UHBOjOO38vVXR0hkEw"
    "iY01eZfvo4oOzrAI4sueglQIuDpk4+xtxFlYjFWc8TNk416c4aa2gBNzN1ItJwBeeAtnEESF7Evz7ss42REcxJRJKKtOUp9s3LHM"
    "Ha3H/eMG9V4xKQs9pM9R45ILqvdyj+fIA1L0OJKc8JWgoAE5s6segJ1rFz5LPm5cBtbAR9QAUO3Q17Nb00doGomvGzD1ElHhW7C6"
    "nudUC4H0+euxuBmqJhaLbe4nac9AeazbaTS41Xgv9Xjwgc36UXOwcYd5PCHetqTCUtb8+8zjQDQTMuRHsojEhuB967Hz61OPI4xk"
    "3wJLKd5qeTZ2gaHNg+zCMTnLBwpAMDcPwx35apiEmF2QjJDaki919tb4R5GPMzciospNd2TJ3M0DJ2gfN7gKN02b9AD7atl5nn3G"
    "xwL5r8MwIWi5D+4a9rAoGsIg5rNSnpwXEZCzwREPF4tkVA4dkHYsiLfP5WwikbQTDfik3+Fe5ZZaTWVcArezkdjrESzkLA6RkSuI"
    "CYW9v0eS7cgjoLhiPqkm7EfYMAvQf182eDIlPijsWD7+fCpy3BszI4HbN6DXbkivXR6QtMDJ2cCeaui9hJpVmHdJglduv0iJHJ2l"
    "8eJBNnLI2TNpmGGjRNt+sq6k4TYoEW7/yNwAm/YiajKEJEM3AbcHyzYsavsyUZP8T6lIhlwzMIgDhNm42iHGbPhK+BHcsvgAWCCm"
    "R+EsNhgEmmKhi5qltL89SFEeHXs9M5c+p4Z/tCvsobdfLmrYD0CRxH58CKFJ5PcZnMvD/XxROzzf3f8GsqCl/NWnylbjuROOlNb4"
    "lrwrZ76G92BU2XFhTaXV3vzrkKUGToPHxQPBvmxvfZ+6mXlAXDKW0IY9aTR7+zw53gBF4VcGicnF60ukLERAfcmGJkGyay5y2WKQ"
    "casEaruGmZ5FPZ5Dz2JqLi04t3L9D2ee7gEFEBOeDxcJCMEpO3uRKxyThVshSbryl0G5Bt0Xx36IsIHCXmcLGDhAQB78kBqb0pyP"
    "8InsEg6f7TG+C8eIZGGKTptNRI9h2H/AYDBjRsMNPwJVLhuN9qDJwQKQW7jeAOdgzCDjezNCaR8SJ2kdsFPkaVlBH/CHTu2gzAMc"
    "JeMjmAaAOunLHCbDiBNGD3wYHsey/4DMfcoENRY+1rEzfD8yj9BumEJLeEFJDPpDF+yeePbJ1MWWyfbf1Bd6Q/mzeztEXIyOlclo"
    "aXBi16oghjakzWeHqmeB+1FU+zBRkaEykKRR7ZUvDcl9gGwY5AqneLn9wL3MwRiR0ykAYt1Ot/xWDDE8j21fnJJmqusQK8Z77qoQ"
    "stBg5TUWQQ0w3pfEBqRdpnKIexTbvthMwJY5D8E2MLA+M4sNDlgvkolLh0+MJ8ohIs9lY5yTZzHtl5ZZF8fg2e8V6oa4Q3LeA4ca"
    "QCiUM7BVnuWFsRtnm1aLLHB6OG2PjJgTGgDo4Jvw5LqaBtR4h0XjxBwJJBN6TrNam3Z8VPGVdISJFKAAUZzz9XC/Eec8cKM1K694"
    "JJoe9iftbVy8bZLrd8SyeWJfn3x/Wxl4kWqxnwy+hNQLKSUdnR2UPpA7p5mJMnSNvdleCU+6Z9tqgfNVXR+WnTRVnDiG0NvkZ7XR"
    "Plq7FLE4812AsIZDzEYj4G94IIDaXpOAfz/aY8qasAWdGTIZ2y4xf8MdKMwCSG9qmQIpRuoMm1NiE+Z0dAcuibCATWvBNeh3TMtE"
    "oorOT3yMYcJ/fBZNmW5Sovk98PDrlq0mTuR1efh7OvYMIn7AI4uQFtBDx7ZOYcIGfuPZNBfoamdvS1B7p2PCdA78PEkEiVm94pB6"
    "+AxgqTBznUIgDdu+lGyIjD/FiYvkuYUnQxSiMh4Zv9jGzR2Ci38vlsrRjDdMojZbPSyAYgtFigH/OcRudXutiWRYh32KCF/EjG6m"
    "yjCHu8qrfXjvUZmZKxx2xrqnSeaJm488HqPYWKQebBqXjn8/muRJu8akHVBnyKPuw2bwmAiHMqIzuLfeWBDGlmV2MrfRpnrbCNt/"
    "yWOML0iq42Ily8wb4zmqRAq2UqM98q/9MGNvBrdASrOjP0z09Un596JHMatjXqg0PjcVqRF9m2fnmA+GLMUaNM3empo/q39A6dDs"
    "0Kozh2XKhluEWmM6Ni/kpCiEz6yPJhNG2cHmZBKaXf15kg5Izr8fJJ5Y/FQlNZo0zLCjWSVhn2fiwA8yPfSrdZF5r8BUBcfKm5rc"
    "WD27nomdSCwa/ZhWKUwSGx5SBJ72Seve7H0pUlOrP1F7RwoZX4+ify/KU3YYctKoIy+kyuhZgAfwEeIzjgjJmsVyb2alQCVlwUGq"
    "DpGnyz7kcRESVpyxpndMWTgv4/H0lw2RsMOvytK/FwWy7B/inDS17PmReOAEJVvaEzcTJYk+1KioFMFYkmSPdthpYB4jQVmt/GPG"
    "8SGkE27n5LaXqE/G10o0pm1eMr8+V/9+TFKWZJUTyRLZqcd1aA+Fa4GdlkJfx5FTdUqSTGgM5Dyn2wOs+3H1KVpWoNmEm9ny4cYh"
    "69dWf+DUwmuS9e9FdQLHuHA8GCRl7IjxmZ3AkrAQQnJ1RVDvgarrLjE7YX8YGxo9dMQiEsMhseY3DngzBWWRxzk3Iq52wENkLHXR"
    "cNdvHmWmbI+1H2C+IRqRIV3a057sx5Ti9pCNhAGwNkjK/MeGp8GkwWt8Lq+/TsoYk0hqfs4wk9lbVzcJuMLs75LCKsHN4dpxiKsH"
    "ZbPhm8OMAyf65TFzlTEgbIDtTCyIstA9DlFbQiTXMv0dgtt/T67PE98aIa8V2/cP6vpMIIGwj5EM7DWSMp5UITwiJwTqMnKqkv1X"
    "MZGP1WizMWLvtqv0htBS+a3Jsq/O778fHVKn5LfiQM8Ex3PoiA6RAXycN6khuHC1HllmBYLEHHDhqWmGHFGRrA94sEgYxX3lDSv0"
    "SDT/PnZo/uVFNP+fdXFPYgLYR0tKtAiwPButuAnVj11QIc42eOjV0+II56zVKsZUj+KQAH8XvVXfbqno0Elyn5BYxFUID2VMZ8d2"
    "53Q7FJIm/OEJAHgCHDdXZx8Q+nijz5oAoKkzAcC//gSA/RRY2CiJVY4xZZiMsXMJCtF7Do5RgKWW6q/qSFE2hiZWorOJ9RAAQ4oZ"
    "BH7EYMCEeeyWglzpgDxCrbjxQMk3zxayFJ6YSjBl4nuDqPpDt15pDMCe8uNlWllg/V5ys+HiUKCKLFy5DCK17Gap++c02MAdQFBK"
    "HOLGTpAXMM6CZmyHWIwxCmBbrYt9PDXqKID9QCmYcsd8nCuksnF8KPVQl1Nm5CbKLoGm+bkDpRyceyRbUSrsN2nk/ksgfx/ZAF9m"
    "JeQ44jgA244DkEOMA9iTYyurCk8TlFvox06SW8uEpAkI39i/vbsBiexucAzC7dpGaisUc9muE6FAAHgyumNzVROK+Ec4NsY3TIFm"
    "RMomxyfnyHXivmhVKh9kKMB+Ki85MiWM5QJsDDEdtO7LHUCFW96zale3NQnbrr2NQRwg8ch+zU3YQgxX76NKMGmUITcl3WTvGyzx"
    "qnMB9qNKlnt7JQrJ00KztfdQECmySdw5dugHH+JOBThyZ3ZiZS9zEs2oqmQnHIySxQSYbI/fwigll7xNXNpeL8qrzAbYD8iOOVtO"
    "AWV+LqqP41qjGCzJPxIpGmLqzbXFosH7AQx5Z6HUdeBGHvoYnHjuro7ixkXZ3uSgJiCcdbHZJjrWhIDQKpEeYkLAflCSkJBWEAcR"
    "tOQD73WCmWH7B7fvwzTa2qfRSDFvQwrIFoqP2kqQKg2w7hEoyXCqE1wgvHYi/eqTm+Rc26vrtGeYXm9OwH78W+FQlwiEmQJTS4es"
    "q5AJQXyZFGAaQ9npUGEHOEASzJM1wY6pVTJhB3FBbpwsF8eZFRBM6918Buh+/VkB+1EfSSSUip4TpkmAfUh4RP55YCDuX2wnF3Tg"
    "EfccJw6gwCfZljUuPGJHQY6OZWT1Jo03MMA0DXKTLM+fGHBcRRRXMrOGm43K5rTDurrIy6DikLfUpdrVBU/CKnxYUxDj7NiuLlrH"
    "DcTqYmFQeMSmlJCT99yWkRPZXPyzKLpdavalSD7IIIH9AKhmhRA5We6WPTSA4uh2DrUOkXwAdSTHjf2F9ikmkiSksbWqqp/oY9JM"
    "wo3iQHlADcB/3j5rnIDEZpyAuMONE9hTn6/YQBpoTcCUDWHEQYkI+m/foSgrJntygOBtzoMYWbnYbNVt9H0EOoep4rxVDomX7Mwz"
    "TVZoTVY80GSB/Rgt5qAR86mlDZd4YM1iC4GLHkf4wsha5w5ydsyTcWiUD370sK9WLPuYDZqcEkvSGeG48fzzfIGf5wuMM1/gMWzM"
    "uNPL+XpvZMwEN9zMpcE1MXxFxsxaNuEGGx9eTDIM60AcZS2nWYUm5DssGbNlUc8DKpGlSj5HxuySYQY2eUkpxx2GYfWsINPnxEjW"
    "l/hSNmavmSzMDBGSZjkCNmaPIJizYS1HVbvPkzHDzEfSemVOIou7ZMxioAWWQMKZlF9Mxpygn4mLmxsvdzAq5lzIpQ2QrbCk0qdi"
    "Ltq3tbupoZfoky9/ZrYI89BlMxOCOdJ4FN7W3mwRQ/mTpg2Kjdv2naPu6tF0xCz5OrI4lIrPy+aL6C0zWyAXQ6omYyRcMesCNppC"
    "JtkdN+KYAvLWCBsSyxaA7tQMJ8QGmfyNeFJ9HB43woqFVwa4nFFk41B64THzRhL0PFBdWChjlaNteuxNHIHWGWgWLFRUq/lJE0cY"
    "i0vhk0ysmpjsnjByRKVm9q8nkITYo/2/lTPLf52fHTlzx/wONB6cVhIAKdlHxf2/O/a7C8Xun1YiD0wruZ0yMji2JA7PHtmiv+MY"
    "PvLp/wC13qJb"
)


def window_pair(rows: int = 3000) -> tuple[Window, Window]:
    reference = generate_workforce(rows, 21)
    current = generate_workforce(rows, 22, drift="reorg").astype(str).astype(object)
    rng = np.random.default_rng(5)
    dirty = rng.choice(rows, size=60, replace=False)
    current.loc[dirty[:10], "Age"] = "abc"
    current.loc[dirty[10:20], "MonthlyIncome"] = ""
    current.loc[dirty[20:30], "Department"] = " Sales"
    current.loc[dirty[30:40], "JobRole"] = "Astronaut"
    current.loc[dirty[40:50], "DistanceFromHome"] = "41.0"
    current.loc[dirty[50:60], "YearsAtCompany"] = None
    current["Extra"] = "x"
    ref_p = attrition_probability(rows, 21)
    cur_p = attrition_probability(rows, 22, "reorg")
    cur_p[dirty] = np.nan
    labels = (current[TARGET] == ATTRITION_YES).to_numpy(dtype=float)
    labels[rng.choice(rows, size=100, replace=False)] = np.nan
    return Window(reference, "reference", ref_p), Window(current, "current", cur_p, labels)


def _differences(expected: Any, got: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (floats compared to 1e-9)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        if set(expected) != set(got):
            return [f"{path}: keys {sorted(set(expected) ^ set(got))}"]
        return [d for k in expected for d in _differences(expected[k], got[k], f"{path}/{k}")]
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{path}: {len(expected)} items, got {len(got)}"]
        return [
            d
            for i, (e, g) in enumerate(zip(expected, got, strict=True))
            for d in _differences(e, g, f"{path}[{i}]")
        ]
    if isinstance(expected, float) and isinstance(got, float):
        return (
            []
            if math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
            else [f"{path}: {expected} != {got}"]
        )
    return [] if expected == got else [f"{path}: {expected!r} != {got!r}"]


@pytest.mark.parametrize("rows", [3000, 200])
def test_drift_result_on_a_real_window_pair_is_unchanged(rows: int) -> None:
    golden = json.loads(zlib.decompress(base64.b64decode("".join(GOLDEN))))[str(rows)]
    result = run_drift_analysis(*window_pair(rows), Settings()).to_dict()
    result.pop("created_at")
    got = json.loads(json.dumps(result, sort_keys=True))
    assert _differences(golden, got) == []
    if rows == 3000:  # the pair is one a check would flag, so the comparison covers a verdict
        assert got["severity"] == "moderate" and got["drifted_features"] == ["Department", "JobRole"]
