"""Property-based run of the API against its own OpenAPI schema (schemathesis): no 5xx, responses as documented.

Every operation is driven with schema-valid (positive) and schema-breaking
(negative) requests carrying an admin key, a few examples each so CI stays
quick. ``positive_data_acceptance`` is left out on purpose: the hard cross-field
rules (YearsInCurrentRole <= YearsAtCompany, ...) cannot be written in JSON
Schema, so a schema-valid record may rightly get 422. ``negative_data_rejection``
is left out too: a negative case whose only violation is a missing API key is
sent with the key this test adds, and rightly accepted. Rejection of bad bodies,
unknown fields and unknown query parameters has direct tests (test_api_app.py,
test_api_robustness.py); here negative cases must still never give a 5xx.

(The operations are iterated here with ``as_strategy`` rather than
``schema.parametrize``: schemathesis' lazy fixture loader reads a pytest node
attribute that pytest 9 no longer has.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from api_support import running_api
from conftest_model import ModelEnv
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

pytestmark = pytest.mark.slow
EXAMPLES = 10


def test_api_conforms_to_its_schema_and_never_answers_5xx(champion_env: ModelEnv) -> None:
    # Its invalid-auth checks send hundreds of bad keys: no failed-authentication 429 here.
    with running_api(champion_env.settings, auth_failures_per_minute=1_000_000) as api:
        schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
        headers = {"X-API-Key": api.keys["admin"]}
        tested: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                )
                def run(case: Any) -> None:
                    response = case.call_and_validate(
                        headers=headers, excluded_checks=[positive_data_acceptance, negative_data_rejection]
                    )
                    assert response.status_code < 500, response.text

                try:
                    run()
                except Unsatisfiable:  # nothing to break (no parameters, no body): fine for negative mode
                    assert mode == GenerationMode.NEGATIVE, operation.label
            tested.append(operation.label)
        assert {"POST /v1/predict", "POST /v1/predict/batch", "POST /v1/feedback", "GET /ready"} <= set(
            tested
        )
        served = api.ctx.metrics.requests.collect()[0].samples
        calls = sum(s.value for s in served if s.name.endswith("_total"))
        assert calls >= 5 * len(tested), calls  # the examples really went through the app
        assert not [s for s in served if s.labels["status"].startswith("5")]
