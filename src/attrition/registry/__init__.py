"""MLflow registry: ``store`` (connection, versions, artifacts read back), ``runs`` (logging a
training run and registering its model), ``aliases`` (challenger/champion, promotion gates,
rollback, reference refresh).

``AttritionPyfunc`` is re-exported here because model versions registered before the
wrapper moved to ``attrition.serving.pyfunc`` were pickled as
``attrition.registry.AttritionPyfunc``.
"""

from attrition.serving.pyfunc import AttritionPyfunc

__all__ = ["AttritionPyfunc"]
