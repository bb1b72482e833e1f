"""Telling people about drift outside the platform: GitHub issues opened or commented by the workflows.

``report``: what a drift run (``attrition drift run``) and a retraining (``attrition train
--promote``) left behind, read and cross-checked. ``github``: a small REST client (httpx, the
``drift`` extra) whose writes a dry run records instead of sending. ``issues``: the rules,
one issue per label (open one, else comment on the open one). The CLI is ``attrition notify``
(``attrition.cli_notify``). Nothing is imported here, so reading a report needs no httpx.
"""
