"""Old home of the explainer, kept so models pickled before the move still load.

Registered versions pickled before ``attrition.serving`` existed name
``attrition.training.explain.ShapExplainer``; new code imports ``attrition.serving.explain``.
"""

from attrition.serving.explain import Contributions, ShapExplainer

__all__ = ["Contributions", "ShapExplainer"]
