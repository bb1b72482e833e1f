"""Old home of the served model, kept so models pickled before the move still load.

Registered versions pickled before ``attrition.serving`` existed name
``attrition.model.AttritionModel``; unpickling looks the class up here.
New code imports ``attrition.serving.model``.
"""

from attrition.serving.model import AttritionModel, risk_band_of

__all__ = ["AttritionModel", "risk_band_of"]
